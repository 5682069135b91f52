import pytest

from accounts.services import admin_key_create


class Api:
    """The management API with an admin key."""

    def __init__(self, client, key, account="ac-acme"):
        self.client = client
        self.headers = {"authorization": f"Bearer {key}"}
        self.base = f"/api/{account}/"

    def __call__(self, method, path, data=None, **kwargs):
        headers = {**self.headers, **kwargs.pop("headers", {})}
        call = getattr(self.client, method)
        if data is None:
            return call(self.base + path, headers=headers, **kwargs)
        return call(
            self.base + path, data=data, content_type="application/json", headers=headers, **kwargs
        )


@pytest.fixture
def admin_api(client, account):
    _, key = admin_key_create(account=account)
    return Api(client, key)
