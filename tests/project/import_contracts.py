"""An import-linter contract type for what its `forbidden` type cannot say: a subpackage of
an external package (`django.db`) that some modules must never import, directly or through
any module of ours they import (the pure rules of DESIGN.md: no database).

    [[tool.importlinter.contracts]]
    type = "forbidden_external_submodules"
    source_modules = ["targeting", "agents.selection"]
    forbidden_submodules = ["django.db"]

import-linter's graph knows an external package by its top name only (`django`), so the
check reads the lines that import it: `from django.db ...`, `import django.db...`,
`from django import db`.
"""

import re

from importlinter import Contract, ContractCheck, fields, output


class ForbiddenExternalSubmodulesContract(Contract):
    source_modules = fields.ListField(subfield=fields.ModuleField())
    forbidden_submodules = fields.ListField(subfield=fields.StringField())

    def check(self, graph, verbose: bool) -> ContractCheck:
        found = []
        for source in self.source_modules:
            package = source.name
            reached = {package, *graph.find_descendants(package)}
            reached |= graph.find_upstream_modules(package, as_package=True)
            for module in sorted(reached):
                for forbidden in self.forbidden_submodules:
                    top = forbidden.split(".")[0]
                    if top not in graph.find_modules_directly_imported_by(module):
                        continue
                    for detail in graph.get_import_details(importer=module, imported=top):
                        if _imports(detail["line_contents"], forbidden):
                            found.append((package, module, detail["line_number"], forbidden,
                                          detail["line_contents"]))  # fmt: skip
        return ContractCheck(kept=not found, metadata={"found": found})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for source, module, line, forbidden, contents in check.metadata["found"]:
            via = "" if module == source or module.startswith(source + ".") else f" via {module}"
            output.print_error(f"{source} imports {forbidden}{via}:")
            output.print_error(f"-   {module}:{line}: {contents}", bold=False)
            output.new_line()


def _imports(line: str, forbidden: str) -> bool:
    """Whether one import line imports `forbidden` (or a module inside it)."""
    parent, _, name = forbidden.rpartition(".")
    escaped = re.escape(forbidden)
    return bool(
        re.match(rf"\s*(from|import)\s+{escaped}(\.|\s|$)", line)
        or (parent and re.match(rf"\s*from\s+{re.escape(parent)}\s+import\s+.*\b{name}\b", line))
    )
