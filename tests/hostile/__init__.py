"""Hostile input (issue 12): bounded time and memory, no tracebacks, a robust language server."""

from __future__ import annotations

HEADER = """id: hostile
title: Hostile
version: 1.0
status: draft
language: nl
owner: Dienst medische oncologie
author: Ziekenhuisapotheek
next review: 2028-11-23
scope: Fixture
reference: protocolc test suite

"""
