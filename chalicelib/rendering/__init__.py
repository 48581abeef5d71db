"""Bytes for printers and screens, no I/O (but the font file shipped in fonts/). May import: domain.

Modules: printfiles (the print files: CSV, ZIP, PDF), qr (QR symbols as SVG and PNG), reports (the
regulator's papers as CSV and PDF), unicode_pdf (a PDF writer embedding a TrueType font).
"""
