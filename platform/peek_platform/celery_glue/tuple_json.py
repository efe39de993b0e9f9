"""Bus tuples as Celery task arguments and results, inside Celery's JSON."""

from typing import Any

from kombu.utils.json import register_type

from peek_vortex.tuples import Tuple
from peek_vortex.wire import tuple_from_json_dict, tuple_to_json_dict


class TupleJsonType:
    """Encodes a bus tuple anywhere in a task's arguments or result (JSON only, no pickle).

    Wire format: kombu's typed-value envelope around the bus codec's standalone tuple dict::

        {"__type__": "peek_tuple",
         "__value__": {"_tt": "<registered tuple type name>", "<field>": <value>, ...}}

    Field values are in the codec's tagged JSON forms (datetimes, bytes, Decimals, nested
    tuples as ``{"~j": {...}}``; see
    :func:`peek_vortex.wire.tuple_to_json_dict`). Decoding builds registered
    tuple types only and sets their declared fields only, so the receiving process must
    have registered the type (a plugin registers its tuples when it loads); a message
    naming an unknown type fails to decode instead of running anything.
    """

    MARKER = "peek_tuple"

    @staticmethod
    def encode(obj: Tuple) -> dict[str, Any]:
        return tuple_to_json_dict(obj)

    @staticmethod
    def decode(value: dict[str, Any]) -> Tuple:
        return tuple_from_json_dict(value)

    @classmethod
    def register(cls) -> None:
        """Teach kombu's JSON (used for Celery messages and results) to carry tuples."""
        register_type(Tuple, cls.MARKER, cls.encode, cls.decode)
