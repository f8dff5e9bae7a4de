import pytest

from countries.models import Mission
from countries.services import PACK_CONTRIBUTORS, staff_user_upsert


@pytest.fixture
def no_pack_contributors(monkeypatch):
    """The pack as this app alone builds it (other apps' contributors, e.g. alerts, removed for this test)."""
    monkeypatch.setattr("countries.services.PACK_CONTRIBUTORS", [])
    return PACK_CONTRIBUTORS


@pytest.fixture
def staff_am(reference_data):
    """A staff member of the embassy in Armenia, with the real "Mission staff" group permissions."""
    return staff_user_upsert(
        username="staff-am", password="pw-staff-am", missions=[Mission.objects.get(ref="am-yerevan-embassy")]
    )


@pytest.fixture
def crisis_centre(db):
    return staff_user_upsert(username="crisis-centre", password="pw-crisis", superuser=True)


class OpenAPI:
    """The generated OpenAPI document, able to validate a JSON value against one of its component schemas."""

    def __init__(self, document: dict):
        self.document = document
        self.components = _json_schema(document["components"])

    def validate(self, component: str, value) -> None:
        import jsonschema

        schema = {"$ref": f"#/components/schemas/{component}", "components": self.components}
        jsonschema.Draft202012Validator(schema).validate(value)


def _json_schema(node):
    """OpenAPI 3.0 `nullable` -> JSON Schema null types (the rest of the vocabulary is JSON Schema already)."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        if "enum" in node and None not in node["enum"]:
            node["enum"] = [*node["enum"], None]
        if "type" in node:
            node["type"] = [node["type"], "null"]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


@pytest.fixture(scope="session")
def openapi() -> OpenAPI:
    from drf_spectacular.generators import SchemaGenerator

    return OpenAPI(SchemaGenerator().get_schema(request=None, public=True))
