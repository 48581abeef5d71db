"""Bytes for printers and screens, no I/O. May import: domain.

Modules: printfiles (the print files: CSV, ZIP, PDF), qr (QR symbols as SVG and PNG).
"""
