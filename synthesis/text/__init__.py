"""The text front-end, pure Python (no Django): SSML (`ssml`), normalization (`normalize`),
splitting (`split`) and the pipeline that turns a request into engine segments (`frontend`).
See docs/text-frontend.md."""
