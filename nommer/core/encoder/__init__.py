"""The encoder's logic: what an encoder does with one job, spot notices, giving up on a machine, and what each ffmpeg run is allowed."""
