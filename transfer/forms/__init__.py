"""Printable forms (A4 PDF, simplified Chinese) and the QR reference each one carries.

``qr``: the check reference format (docs/qr-format.md), pure. ``pdf``: the page
primitives over reportlab with an embedded CJK font. ``documents``: the five forms as
pure functions from data to PDF bytes; :mod:`transfer.services.forms` gathers the data.
"""
