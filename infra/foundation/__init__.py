"""What both targets share: project APIs, registry, images, network, broker, identities, secrets."""
