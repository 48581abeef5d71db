"""Bytes for printers and screens, no I/O: QR symbols (SVG, PNG) and print files (CSV, ZIP, PDF).
May import: domain."""
