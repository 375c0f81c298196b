"""Security: API tokens, credentials inside URIs, which addresses nommer may reach, webhook signatures."""
