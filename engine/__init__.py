"""IOC engine: the domain core (events, rules, alerts, BPMN runtime, task inbox, audit, organisation).

The engine imports nothing from ``web`` or ``connectors``.
"""
