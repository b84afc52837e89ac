"""The HTTP API: validates a task's payload, publishes it by name, reports its status.

It never imports the worker: both sides share only ``task_contract``.
"""
