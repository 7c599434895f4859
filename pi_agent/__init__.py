"""OpenPalm's Raspberry Pi agent: positioning, weight bearing and vibration for a stroke survivor's hand."""

__version__ = "0.1.0"
