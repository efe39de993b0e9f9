"""The tutorial's action processor on the server: StringInt actions go to the controller."""

from peek_plugin_base.vortex import TupleActionProcessor
from peek_plugin_tutorial._private.PluginNames import tutorialActionProcessorName, tutorialFilt
from peek_plugin_tutorial._private.server.controller.StringIntController import (
    StringIntController,
)
from peek_plugin_tutorial._private.tuples.AddIntValueActionTuple import AddIntValueActionTuple
from peek_plugin_tutorial._private.tuples.StringCapToggleActionTuple import (
    StringCapToggleActionTuple,
)


def makeTupleActionProcessorHandler(controller: StringIntController) -> TupleActionProcessor:
    """The processor the client service's proxy forwards device actions to."""
    processor = TupleActionProcessor(
        tupleActionProcessorName=tutorialActionProcessorName, additionalFilt=tutorialFilt
    )
    processor.setDelegate(AddIntValueActionTuple, controller)
    processor.setDelegate(StringCapToggleActionTuple, controller)
    return processor
