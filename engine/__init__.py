"""The service: HTTP and WebSocket API, intake, queue, worker, execution, routing, recorder, events, storage."""

__version__ = "0.1.0"
