"""The realtime socket's contexts (`/v1/stream`, docs/websocket.md), in the order a message
travels: `messages` (validation) → `session` (the socket's contexts) → `context` (one synthesis:
text → units → jobs) → `speaker` (contexts in start order) → `output` (encode, frame, pace,
send). `buffer` and `telephony` are pure helpers."""
