"""The contract between web processes and TTS workers: what one side hands the other.

    web side (services, stream)              worker (worker.py, engines/)
    ──────────────────────────               ────────────────────────────
    front-end Plan ──plan.engine_segments──► [Segment]
    Job {segments, voice, conditioning} ──► claimed, streamed
    [Chunk] ◄── engine-rate PCM, in order, within the credit window
    messages.* (accepted/audio/credit/cancel/done/error), keys.Keys (where they travel)

Pure: no Django, no engine, no settings. What a deployment configures (the Redis prefix) comes
in as a parameter, so both sides and the tests build the same names from the same inputs.
"""
