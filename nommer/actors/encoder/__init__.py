"""The encoder's actors: Puller → Fetcher → Encoder → Uploader, and the Keeper."""
