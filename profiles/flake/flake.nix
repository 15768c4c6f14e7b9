# The fleet's shared configuration, as every machine applies it on first
# boot (`nix run /etc/microvisor/flake#apply`). This example has no inputs,
# so it evaluates offline; replace apply.sh (or the whole flake) with your
# own configuration: home-manager, nix-darwin, a NixOS system, ...
{
  description = "Microvisor fleet configuration (example)";

  outputs = { self }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-freebsd" ];
      app = { type = "app"; program = "${./apply.sh}"; };
    in {
      apps = builtins.listToAttrs (map (system: {
        name = system;
        value = { apply = app; default = app; };
      }) systems);
    };
}
