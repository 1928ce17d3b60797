"""Read a CloudFormation/SAM YAML template into plain dicts, short-form tags expanded.

`!Ref X` becomes `{"Ref": "X"}`, `!GetAtt A.B` becomes `{"Fn::GetAtt": ["A", "B"]}`, `!Sub`,
`!If`, `!Select`... become `{"Fn::Sub": ...}` and so on: the long form CloudFormation itself
uses, so the local stack and the template tests walk one shape whatever the author wrote.
Scalars keep CloudFormation's reading: dates such as `2012-10-17` stay strings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["CfnYamlError", "load_template", "loads_template"]

#: Short-form tags whose long form is `Fn::<Name>` (everything except Ref and Condition).
_FN_TAGS = (
    "And",
    "Base64",
    "Cidr",
    "Equals",
    "FindInMap",
    "GetAZs",
    "GetAtt",
    "If",
    "ImportValue",
    "Join",
    "Length",
    "Not",
    "Or",
    "Select",
    "Split",
    "Sub",
    "ToJsonString",
    "Transform",
)


class CfnYamlError(ValueError):
    """The template is not valid YAML, or uses a tag in a way CloudFormation rejects."""


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader with CloudFormation's tags, without timestamp parsing, rejecting duplicate keys."""


# CloudFormation reads `Version: 2012-10-17` as a string; PyYAML would make it a date.
_CfnLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _node_value(loader: _CfnLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise CfnYamlError(f"unsupported YAML node {node!r}")  # pragma: no cover


def _construct_ref(loader: _CfnLoader, node: yaml.Node) -> dict[str, Any]:
    return {"Ref": _node_value(loader, node)}


def _construct_condition(loader: _CfnLoader, node: yaml.Node) -> dict[str, Any]:
    return {"Condition": _node_value(loader, node)}


def _construct_get_att(loader: _CfnLoader, node: yaml.Node) -> dict[str, Any]:
    value = _node_value(loader, node)
    if isinstance(value, str):
        # `!GetAtt Resource.Attr.With.Dots` splits at the first dot only.
        resource, sep, attribute = value.partition(".")
        if not sep or not resource or not attribute:
            raise CfnYamlError(f"!GetAtt needs Resource.Attribute, got {value!r} (line {node.start_mark.line + 1})")
        return {"Fn::GetAtt": [resource, attribute]}
    return {"Fn::GetAtt": value}


def _fn_constructor(name: str) -> Any:
    def construct(loader: _CfnLoader, node: yaml.Node) -> dict[str, Any]:
        return {f"Fn::{name}": _node_value(loader, node)}

    return construct


def _construct_mapping_no_duplicates(loader: _CfnLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise CfnYamlError(f"duplicate key {key!r} at line {key_node.start_mark.line + 1}")
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_CfnLoader.construct_mapping = _construct_mapping_no_duplicates
_CfnLoader.add_constructor("!Ref", _construct_ref)
_CfnLoader.add_constructor("!Condition", _construct_condition)
_CfnLoader.add_constructor("!GetAtt", _construct_get_att)
for _name in _FN_TAGS:
    if _name != "GetAtt":
        _CfnLoader.add_constructor(f"!{_name}", _fn_constructor(_name))


def loads_template(text: str) -> dict[str, Any]:
    """Parse template text (YAML or JSON) into a dict with intrinsic functions in long form."""
    try:
        document = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise CfnYamlError(str(exc)) from exc
    if not isinstance(document, dict):
        raise CfnYamlError("a template must be a mapping at the top level")
    return document


def load_template(path: str | Path) -> dict[str, Any]:
    """Read a CloudFormation or SAM template file (e.g. template.yaml) into a dict."""
    return loads_template(Path(path).read_text(encoding="utf-8"))
