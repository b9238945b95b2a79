"""Unit tests: no server, no render; each module checks one part of chalkline."""
