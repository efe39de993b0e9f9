"""The bus's one error tree: its drawing lists every class, codes round-trip through the
wire to their class, unknown and local-only codes stay RemoteErrors, old imports work."""

import logging
import re

import pytest
from twisted.internet.task import Clock

import peek_plugin_base.vortex as vortex
from peek_plugin_base.vortex import PayloadEnvelope, RemoteError
from peek_vortex import errors
from peek_vortex.errors import WIRE_ERRORS, VortexError, error_from_reply, error_reply
from peek_vortex.testing import MemoryVortex
from tests.support import result_of

logger = logging.getLogger(__name__)

#: Every class of the tree, as the module defines them.
TREE = {
    name: cls for name, cls in vars(errors).items()
    if isinstance(cls, type) and issubclass(cls, VortexError) and cls.__module__ == errors.__name__
}


def _drawing() -> dict[str, tuple[str, str, bool]]:
    """The docstring's tree: class name -> (parent drawn above it, code column, marked *)."""
    block = errors.__doc__.split("::\n", 1)[1].strip("\n").split("\n\n")[0]
    rows: dict[str, tuple[str, str, bool]] = {}
    stack: list[tuple[int, str]] = []
    for line in block.splitlines()[1:]:
        # Four spaces of docstring indent, then four characters per tree level.
        match = re.match(r"^    ((?:[│ ]   |[├└]── )*)(\w+)\s+(\S.*?)?\s*(\*)?$", line)
        assert match, f"cannot read drawing line {line!r}"
        depth = len(match.group(1)) // 4
        name, code, star = match.group(2), (match.group(3) or ""), bool(match.group(4))
        while stack and stack[-1][0] >= depth:
            stack.pop()
        rows[name] = (stack[-1][1] if stack else "", code.strip(), star)
        stack.append((depth, name))
    return rows


def _instance(cls: type[VortexError], message: str) -> VortexError:
    """An instance of ``cls`` with ``message`` (classes with richer constructors built
    without them: only the code and the text cross the wire)."""
    try:
        return cls(message)  # type: ignore[call-arg]
    except TypeError:
        error = Exception.__new__(cls)
        Exception.__init__(error, message)
        return error


def test_the_drawing_lists_every_class_with_its_parent_code_and_mark() -> None:
    """The docstring's tree has exactly the module's classes, each under its real base
    class, with its code in the code column and ``*`` exactly on those that cross the
    wire."""
    drawn = _drawing()
    assert set(drawn) == set(TREE), set(drawn) ^ set(TREE)
    for name, (parent, code, star) in drawn.items():
        cls = TREE[name]
        if parent:
            assert cls.__bases__[0] is TREE[parent], f"{name} is drawn under {parent}"
        if cls is not RemoteError:
            assert code == cls.code, f"{name}: drawn code {code!r}, class code {cls.code!r}"
        assert star == cls.crosses_wire, name


@pytest.mark.parametrize("code", sorted(WIRE_ERRORS))
def test_every_wire_error_round_trips_to_its_class(code: str) -> None:
    """An instance of each registered class, answered with error_reply, encoded into an
    error reply's bytes and read back, is rebuilt by error_from_reply as that class (and a
    RemoteError) with the same code and message."""
    cls = WIRE_ERRORS[code]
    assert cls.code == code and cls.crosses_wire
    sent = _instance(cls, f"why {code}")
    sent_code, message = error_reply(sent, logger, "the test")
    assert (sent_code, message) == (code, str(sent))
    data = PayloadEnvelope(filt={"key": "x"}, error=(sent_code, message)).toVortexMsg()
    received = PayloadEnvelope.fromVortexMsg(data)
    error = error_from_reply(*received.error)
    assert isinstance(error, cls) and isinstance(error, RemoteError)
    assert (error.code, error.message) == (code, str(sent))
    assert type(error).__name__ == cls.__name__
    # Sending a rebuilt error on (a proxy relaying it) keeps its code and message.
    assert error_reply(error, logger, "a relay") == (code, str(sent))


def test_every_wire_crossing_class_of_the_tree_is_registered() -> None:
    """The registry is exactly the tree's classes marked as crossing the wire (plus any
    VortexError subclass elsewhere that declares its own code and crosses)."""
    marked = {cls.code: cls for cls in TREE.values()
              if cls.crosses_wire and isinstance(cls.__dict__.get("code"), str)}
    assert {c: WIRE_ERRORS[c] for c in marked} == marked
    assert len(marked) >= 14


@pytest.mark.parametrize("code", ["MyPluginCode", "ValueError", "ReplyTimeoutError",
                                  "ConnectionLostError", "closed", "back-pressure"])
def test_unknown_and_local_only_codes_stay_remote_errors(code: str) -> None:
    """A code the registry does not hold (a plugin's own, a non-bus exception's class
    name, or a timeout/lost connection/transport failure reported by a further hop)
    arrives as a plain RemoteError carrying the code, never as a local-only class."""
    error = error_from_reply(code, "far away")
    assert type(error) is RemoteError
    assert (error.code, error.message) == (code, "far away")


def test_a_duplicate_code_is_refused() -> None:
    """Declaring a second class with a code already in the registry is a TypeError naming
    both classes, and the registry keeps the first."""
    with pytest.raises(TypeError, match="NoEndpointError.*already used by"):
        type("Impostor", (errors.CallRefusedError,), {"code": "NoEndpointError"})
    assert WIRE_ERRORS["NoEndpointError"] is vortex.NoEndpointError


def test_no_endpoint_reply_is_a_no_endpoint_error_across_a_bus() -> None:
    """A request to a process with no handler fails at once with an error that is both a
    NoEndpointError (exported from peek_plugin_base.vortex) and a RemoteError."""
    bus = MemoryVortex(Clock())
    server, agent = bus.node("peek-server"), bus.node("peek-agent")
    bus.link(agent, server)
    answer = agent.router.request(PayloadEnvelope(filt={"key": "nobody.home"}), "peek-server")
    with pytest.raises(vortex.NoEndpointError) as info:
        result_of(answer)
    assert isinstance(info.value, RemoteError)
    assert info.value.code == vortex.NoEndpointError.code == "NoEndpointError"
    assert "nobody.home" in info.value.message


def test_codes_are_unique_across_the_tree() -> None:
    """No two classes of the tree share a code, crossing the wire or not (a reply's code
    names exactly one class)."""
    codes = [cls.__dict__["code"] for cls in TREE.values()
             if isinstance(cls.__dict__.get("code"), str)]
    assert len(codes) == len(set(codes)) == len(TREE) - 1  # all but RemoteError
