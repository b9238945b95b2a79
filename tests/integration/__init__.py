"""Integration tests: real renders, FFmpeg, and the fakes of tests.support on loopback."""
