"""Privacy classes in one place (ARCHITECTURE.md §8), called by ingest, webhooks and connectors.

- `identifiers`: opaque identifiers (user, anonymous, session, device, ad ids) must not carry an
  e-mail, phone number or IP address; `contact_kind` says which one a value looks like.
- `free_text`: text a person typed or a browser reported (URLs, titles, UTM terms, cities, user
  agents); `mask_contact_data` replaces e-mails, phone numbers and IPs inside it.
- `keyed_hash`: contact data (e-mail, phone) and network data (IP, truncated first) become HMAC
  pseudonyms keyed with `OWNLAY_PII_HASH_KEY`.
- `urls`: URLs lose credentials, fragments and personal query parameters; click ids stay.
- `properties`: free-form JSON scrubbed at any depth (sensitive names dropped, text masked).

docs/privacy.md lists every event field with its class.
"""
