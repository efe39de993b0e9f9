"""The platform side of the bus: building the transport and the bridge from config.json
(``wiring``) and the platform token (``platform_token``); the bus itself is ``peek_vortex``."""
