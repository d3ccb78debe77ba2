"""The probe's sentence frames: how a word is presented to the real model.

Apart from `run` so that the command line offers them without importing the statistics.
"""

DEFAULT_FRAMES = ("{w}", "a {w}", "This is a {w}.", "I saw the {w} yesterday.")
