"""The caregiver dashboard: one or many OpenPalm devices, live, from MQTT.

``fleet`` keeps what the page needs from the devices' topics; ``auth`` holds the
password check and the sessions; ``server`` serves the page, its data and a stream of
updates (server-sent events). The page (``static/``) draws its own charts as SVG: no
CDN, no build step, it works on a home network with no internet.
"""
