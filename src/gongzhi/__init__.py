"""共治 Gongzhi — community governance platform."""

__version__ = "0.1.0"
