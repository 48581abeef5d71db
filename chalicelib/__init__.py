"""QR Campaigns below the routes: rules, use cases and what they stand on; nothing in here imports chalice.

Packages by role, each importing only the packages its own docstring names after
"May import:" (a package may always import itself; tests/unit/test_layers.py holds every
module to it): domain, the pure rules, imports nothing with I/O; rendering and pages build
bytes and HTML from it; adapters talk to AWS; views read through adapters; services run
the use cases on all of them. config.py (the settings), logs.py (the one log format) and
coldstart.py (garbage collection while the app loads) stand beside them and import none
of them.
"""
