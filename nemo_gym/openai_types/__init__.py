"""The OpenAI wire types NeMo Gym accepts and produces; ``nemo_gym.openai_utils`` is their public face.

* :mod:`.parts` - content parts, annotations and logprobs: plain dicts (TypedDicts) with list fields;
* :mod:`.response_items` - Responses input/output items and their ``...ForTraining`` variants;
* :mod:`.responses` - the Responses request (create-params) and the ``Response`` envelope;
* :mod:`.chat` - Chat Completions messages, request and reply.

Every list-valued field is a ``list``, never the SDK's ``Iterable``: pydantic validates an ``Iterable`` into a lazy
iterator that can be read once and fails when the model is dumped (the 500 ``SerializationIterator``).
"""
