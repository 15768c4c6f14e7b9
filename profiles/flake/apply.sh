#!/bin/sh
# The apply step: what every machine of the fleet runs after bootstrap.
# This example records that it ran; replace it with your configuration's
# switch command (home-manager switch, nixos-rebuild switch, ...).
set -eu
echo "microvisor: applied the fleet configuration on $(uname -n) at $(date -u +%Y-%m-%dT%H:%M:%SZ)"
