"""Services as targets: an ASGI application driven with real requests, in the worker.

``app`` recognises an ASGI application; ``requests`` parses the requests to send; ``asgi`` is
wfleak's own ASGI driver (lifespan, request streaming, client disconnect); ``serve`` runs the
app under uvicorn on a loopback port and sends real HTTP; ``provider`` makes one run out of
one request (or a batch of them) for the pipeline.
"""
