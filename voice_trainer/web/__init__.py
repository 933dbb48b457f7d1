"""Practice in the browser (``voice-trainer serve``): a local Starlette app whose page is one more answer source
for the call loop. ``app.py`` (pages, security, the WebSocket), ``call.py`` (one call from a page), ``answers.py``
(the browser as answer source), ``link.py`` (the page's audio on one clock), ``static/`` (HTML's CSS and JS)."""
