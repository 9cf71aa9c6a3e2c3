"""The real servers the gatekeeper tests talk to live in demo/local_services.py (the demo runs them too)."""

from aiops.demo.local_services import Call, OpaServer, PlatformCtlServer, free_port

__all__ = ["Call", "OpaServer", "PlatformCtlServer", "free_port"]
