"""What the browser tests share beyond their fixtures: Chromium's launch flags and the phone's screen."""

# Headless, and off the network except for the pages the tests open (see shared/docs/pitfalls.md, "Browser").
LAUNCH_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "en-US",
}
