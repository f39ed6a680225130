#!/usr/bin/env bash
# Finds COUNT consecutive TCP ports that are free on ADDRESS and prints the first; for the tests and
# the private Slurm cluster, which need ports that are really free.
#
#   launch/free-ports.sh [COUNT [ADDRESS]]     COUNT 1 to 100 (default 1), ADDRESS default 127.0.0.1
#
# "Free" means bindable: all COUNT ports are bound at once (perl, from Debian's essential perl-base),
# then released. Connecting is not enough: a port can be bound, or held by an outgoing connection,
# without anything listening on it. Use ADDRESS 0.0.0.0 for a program that binds every address.
#
# The race that is left: between the release here and the caller's own bind, another process may
# take one of the ports. It stays small: candidates come from below the kernel's ephemeral range
# (/proc/sys/net/ipv4/ip_local_port_range), where bind(port 0) and outgoing connections never land,
# so only programs that pick fixed ports themselves can collide; the start is random, so two tests
# picking at once rarely meet; and callers bind right after. A caller that loses the race fails at
# its bind with a clear error, never silently.
set -euo pipefail

count=${1:-1}
address=${2:-127.0.0.1}
[[ $count =~ ^[1-9][0-9]?$|^100$ ]] || { echo "free-ports: COUNT must be 1 to 100" >&2; exit 2; }

# Candidates: [10000, start of the ephemeral range); above it if that is too narrow.
read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range
lo=10000 hi=$((eph_lo - count))
if [[ $((hi - lo)) -lt 1000 ]]; then lo=$((eph_hi + 1)) hi=$((65536 - count)); fi
[[ $((hi - lo)) -ge 100 ]] || { echo "free-ports: no port range outside the ephemeral $eph_lo-$eph_hi" >&2; exit 1; }

# bindable FIRST: exit 0 when FIRST .. FIRST+COUNT-1 can all be bound on ADDRESS at once.
bindable() {
  perl -MSocket -e '
    my ($first, $count, $address) = @ARGV;
    my $ip = inet_aton($address) or die "free-ports: bad address $address\n";
    my @held;
    for my $port ($first .. $first + $count - 1) {
      socket(my $s, PF_INET, SOCK_STREAM, 0) or die "free-ports: socket: $!\n";
      bind($s, pack_sockaddr_in($port, $ip)) or exit 1;
      push @held, $s;
    }
    exit 0;' "$1" "$count" "$address"
}

for _ in $(seq 100); do
  first=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo)))
  rc=0
  bindable "$first" || rc=$?
  [[ $rc -eq 0 ]] && { echo "$first"; exit 0; }
  [[ $rc -eq 1 ]] || exit 1  # perl said why
done
echo "free-ports: no $count consecutive free TCP ports on $address in $lo-$((hi + count - 1)) (100 tries)" >&2
exit 1
