"""The Kubernetes target (``platform: gke``): the same images, secrets and broker on GKE.

docs/kubernetes.md describes the choices; each module here owns one concern.
"""
