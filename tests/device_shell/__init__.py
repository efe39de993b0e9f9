"""Tests of the device app shell: plugin UI declarations, the listing, the service worker."""
