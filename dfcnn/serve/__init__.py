"""``dfcnn serve``: a trained model behind OpenAI's transcription API, WebSocket streaming and a browser page.

    dfcnn serve --model exp/ [--host 127.0.0.1 --port 8000] [--backend onnx] [--api-key KEY]
    dfcnn serve --model exp/ --lm lm/lm.bin --lm-weight 2      # the decoding options of dfcnn transcribe

``app`` (the FastAPI routes), ``stream`` (WS /v1/stream), ``limits`` (options, admission, body size,
token), ``responses`` (OpenAI's response shapes), ``docs`` (/docs served offline), ``server`` (uvicorn
with a stream-draining shutdown), ``commands`` (the ``serve`` command), ``static/`` (the page, and the
/docs page used without Swagger UI).
"""
