/**
 * @file The tutorial's tuples in the browser, declared like the Python ones (same type
 * names, same fields in the same order), so the bus client can decode and encode them.
 */

import { addTupleType, Tuple, TupleActionABC } from "/peek/vortex.js";

const PREFIX = "peek_plugin_tutorial.";

/** One row of the StringInt table (``_private/storage/StringIntTuple.py``). */
export class StringIntTuple extends Tuple {
  static tupleType = PREFIX + "StringIntTuple";
  /** @type {number | null} */ id = null;
  /** @type {string | null} */ string1 = null;
  /** @type {number | null} */ int1 = null;
}
addTupleType(StringIntTuple);

/** The table's total, summed by the worker (``_private/tuples/StringIntTotalTuple.py``). */
export class StringIntTotalTuple extends Tuple {
  static tupleType = PREFIX + "StringIntTotalTuple";
  /** @type {number} */ total = 0;
  /** @type {number} */ rowCount = 0;
}
addTupleType(StringIntTotalTuple);

/** Add ``offset`` to a row's int1 (``_private/tuples/AddIntValueActionTuple.py``). */
export class AddIntValueActionTuple extends TupleActionABC {
  static tupleType = PREFIX + "AddIntValueActionTuple";
  /** @type {number | null} */ stringIntId = null;
  /** @type {number | null} */ offset = null;
}
addTupleType(AddIntValueActionTuple);

/** Toggle the case of a row's string1 (``_private/tuples/StringCapToggleActionTuple.py``). */
export class StringCapToggleActionTuple extends TupleActionABC {
  static tupleType = PREFIX + "StringCapToggleActionTuple";
  /** @type {number | null} */ stringIntId = null;
}
addTupleType(StringCapToggleActionTuple);

/** The names the server's observable and action processor listen under. */
export const tutorialObservableName = "peek_plugin_tutorial";
export const tutorialActionProcessorName = "peek_plugin_tutorial";
export const tutorialFilt = { plugin: "peek_plugin_tutorial" };
