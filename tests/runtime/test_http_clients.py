"""The seed's flow driven from scripts, over a real socket, with the HTTP clients people use
and their default User-Agents: Python's urllib and requests, curl, Node's fetch, Java's
HttpURLConnection. An Express target without `ua` reads the User-Agent header; none of
these is a bot (SPEC §4b), so each selection is recorded (`p: "r"`)."""

import json
import os
import shutil
import subprocess
import urllib.request

import pytest
import requests

from visitors.models import Assignment

pytestmark = pytest.mark.django_db(transaction=True)

JAVA_CLIENT = """
import java.io.*;
import java.net.*;
import java.nio.charset.StandardCharsets;

public class Client {
    public static void main(String[] args) throws Exception {
        HttpURLConnection c = (HttpURLConnection) new URL(args[0]).openConnection();
        c.setRequestMethod("POST");
        c.setDoOutput(true);
        c.getOutputStream().write(args[1].getBytes(StandardCharsets.UTF_8));
        InputStream in = c.getResponseCode() < 400 ? c.getInputStream() : c.getErrorStream();
        System.out.print(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    }
}
"""


def _tool(name):
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            raise AssertionError(f"{name} not found: CI requires it")
        pytest.skip(f"{name} not found (CI requires it)")
    return path


def _urllib(url, body, tmp_path):
    request = urllib.request.Request(url, data=body.encode(), method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.read().decode()


def _requests(url, body, tmp_path):
    return requests.post(url, data=body.encode(), timeout=10).text


def _run(command, tmp_path):
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)  # noqa: S603
    return done.stdout


def _curl(url, body, tmp_path):
    return _run([_tool("curl"), "-s", "-X", "POST", "--data-binary", body, url], tmp_path)


def _node_fetch(url, body, tmp_path):
    script = (
        "fetch(process.argv[1], {method: 'POST', body: process.argv[2]})"
        ".then(r => r.text()).then(t => process.stdout.write(t))"
    )
    return _run([_tool("node"), "-e", script, url, body], tmp_path)


def _java(url, body, tmp_path):
    source = tmp_path / "Client.java"
    source.write_text(JAVA_CLIENT)
    return _run([_tool("java"), str(source), url, body], tmp_path)


CLIENTS = {
    "python-urllib": _urllib,
    "python-requests": _requests,
    "curl": _curl,
    "node-fetch": _node_fetch,
    "java": _java,
}


@pytest.mark.parametrize("client_name", list(CLIENTS))
def test_script_selection__default_user_agent__recorded_not_a_bot(
    client_name, live_server, agent, express_target, tmp_path
):
    vid = f"script-{client_name}"
    url = (
        f"{live_server.url}/ac-acme/v3/agent-api?apikey={express_target.api_key}"
        f"&session={vid}&vid={vid}"
    )
    answer = json.loads(CLIENTS[client_name](url, '[{"a": "a-hero"}]', tmp_path))
    item = answer["data"]["items"][0]
    assert item["p"] == "r", answer  # a new assignment, not "b" (a bot: nothing recorded)
    assert Assignment.objects.filter(identity=f"v:{vid}").count() == 1


@pytest.mark.parametrize("client_name", list(CLIENTS))
def test_back_office_batch__each_client__a_verdict_per_event(
    client_name, live_server, agent, express_target, rest_target, tmp_path
):
    """The batch endpoint (SPEC §4c) from a back office's script: whatever Content-Type the
    client sends by default (form-encoded for curl and urllib, none for node), the body is
    read as JSON and each event is answered."""
    from visitors.models import GoalEvent

    vid = f"office-{client_name}"
    page = (
        f"{live_server.url}/ac-acme/v3/agent-api?apikey={express_target.api_key}"
        f"&session=p-{vid}&vid={vid}"
    )
    CLIENTS[client_name](page, '[{"a": "a-hero"}]', tmp_path)
    url = f"{live_server.url}/ac-acme/v3/goal-events?apikey={rest_target.api_key}"
    body = json.dumps({"events": [
        {"vid": vid, "g": "g-purchase", "v": 12.5, "id": f"order-{client_name}"},
        {"vid": vid, "g": "g-purchase", "v": "twelve"},
    ]})  # fmt: skip
    answer = json.loads(CLIENTS[client_name](url, body, tmp_path))
    items = answer["data"]["items"]
    assert [(i["i"], i["s"]) for i in items] == [(0, "ok"), (1, "err")]
    assert items[1]["err"] == "invalid_event"
    assert answer["data"]["counts"] == {"ok": 1, "none": 0, "err": 1, "replay": 0}
    assert GoalEvent.objects.get(event_id=f"order-{client_name}").value == 12.5
