"""Every field the connection form shows is named in docs/connections.md and in the README.

The form is the provider info's ``conn-fields`` (Airflow 3.2+ draws one input per entry, stored
in the connection's extra under the entry's name). Issue 22 found four of them (``proxy``,
``verify``, ``cert``, ``cert_key``) in the form and in neither document: a field added to the form
without its extra's name and its label in both fails here, naming the field and the document.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_projects.provider_info import build_provider_info

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = ("docs/connections.md", "README.md")


def form_fields() -> dict[str, str]:
    """Each extra the form shows, for any connection type, with its label in the form."""
    fields: dict[str, str] = {}
    for connection_type in build_provider_info()["connection-types"]:
        for name, field in connection_type.get("conn-fields", {}).items():
            fields[name] = field["label"]
    return fields


FIELDS = form_fields()


def test_the_form_has_fields() -> None:
    """Guards the tests below against passing on an empty form."""
    assert {"timeout", "max_retries", "proxy", "verify", "cert", "cert_key"} <= set(FIELDS)


def names_label(text: str, label: str) -> bool:
    """``label`` appears on its own: not only as the start of a longer label ("Client certificate key")."""
    longer = [other for other in FIELDS.values() if other != label and other.startswith(label)]
    start = text.find(label)
    while start != -1:
        if not any(text.startswith(other, start) for other in longer):
            return True
        start = text.find(label, start + 1)
    return False


def test_a_label_is_not_found_inside_a_longer_one() -> None:
    assert not names_label("only the *Client certificate key* field", "Client certificate")
    assert names_label("*Client certificate key* and *Client certificate*", "Client certificate")


@pytest.mark.parametrize("document", DOCUMENTS)
@pytest.mark.parametrize("name", sorted(FIELDS))
def test_the_document_names_the_extra_and_its_label(document: str, name: str) -> None:
    text = (REPO / document).read_text()
    assert f"`{name}`" in text, f"{document} never names the extra `{name}` that the connection form shows"
    assert names_label(text, FIELDS[name]), f"{document} never names the form's field {FIELDS[name]!r} (`{name}`)"
