"""Delivering a key's value to where applications read it: one module per kind of sink
(`filesink`, `command`, `github`, `vault`), `send` to pick one. Each writes one value to one sink
or raises `DeliveryError` with a message that never holds the value. Journalling a delivery and
choosing which to make are the apply's (`reconciler.apply.deliveries`)."""
