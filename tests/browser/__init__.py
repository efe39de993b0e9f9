"""Tests that drive pages in headless Chromium (Debian's ``chromium``) through Playwright."""
