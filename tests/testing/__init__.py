"""Tests of nommer.testing."""
