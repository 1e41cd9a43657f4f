#!/usr/bin/env bash
# The partnership's certificate authority, around the openssl CLI.
#
#   certs.sh init    DIR PARTNERSHIP [--crl-url URL]
#                                               create the CA (ECDSA P-256) and an empty CRL;
#                                               certificates name URL (default
#                                               http://PARTNERSHIP/hub-ca.crl) as where the
#                                               CRL is published (serve DIR/hub-ca.crl there)
#   certs.sh server  DIR NAME [--dns D]... [--ip A]... [--days N]
#   certs.sh client  DIR AGENCY ROLE [--days N] [--start YYYYMMDDHHMMSSZ --end YYYYMMDDHHMMSSZ]
#   certs.sh revoke  DIR NAME                   revoke NAME's certificate and publish a new CRL
#   certs.sh crl     DIR [--days N | --from T --until T]
#                                               publish a fresh CRL (do it before nextUpdate!);
#                                               T is YYYYMMDDHHMMSSZ
#   certs.sh dev     DIR PROTOCOL_FILE          a development CA, a localhost server
#                                               certificate and one client per principal
#
# Layout of DIR: ca.crt, ca.key (0600), server/NAME.{crt,key}, clients/NAME.{crt,key},
# crl/ (CRLs hashed with `openssl rehash`, what hubd's tls.crl_dir points at),
# hub-ca.crl (the same CRL in DER, to publish at the URL certificates name),
# and the CA's database (index.txt, serial, crlnumber, issued/).
# A client certificate's identity is the single SAN URI
#   spiffe://PARTNERSHIP/agency/AGENCY/ROLE
# and its files are named AGENCY-ROLE.
set -euo pipefail

die() { echo "certs.sh: $*" >&2; exit 1; }
usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

[ $# -ge 2 ] || usage
command=$1 dir=$(realpath -m "$2")
shift 2

ca_config() {
  cat > "$dir/ca.cnf" <<CNF
[ ca ]
default_ca = partnership_ca
[ partnership_ca ]
dir = $dir
database = \$dir/index.txt
new_certs_dir = \$dir/issued
certificate = \$dir/ca.crt
private_key = \$dir/ca.key
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
default_days = 365
default_crl_days = 30
policy = anything
unique_subject = no
copy_extensions = none
[ anything ]
commonName = supplied
organizationName = optional
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
CNF
}

new_key() {  # path
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null)
  chmod 600 "$1"
}

publish_crl() {  # openssl ca validity options
  openssl ca -config "$dir/ca.cnf" -gencrl "$@" -out "$dir/crl/ca.crl.pem" 2>/dev/null ||
    die "openssl ca could not publish the CRL"
  openssl rehash "$dir/crl" 2>/dev/null || c_rehash "$dir/crl" >/dev/null
  openssl crl -in "$dir/crl/ca.crl.pem" -outform DER -out "$dir/hub-ca.crl"
}

# Where relying parties fetch the CRL: named in every certificate issued.
crl_url() {
  if [ -f "$dir/crl_url" ]; then cat "$dir/crl_url"; else echo "http://$(partnership)/hub-ca.crl"; fi
}

# Signs the CSR at $1 into $2 with the extensions in $3; more args go to `openssl ca`.
sign() {
  local csr=$1 out=$2 extensions=$3
  shift 3
  openssl ca -batch -config "$dir/ca.cnf" -notext -extfile "$extensions" -in "$csr" -out "$out" \
    "$@" 2>/dev/null || die "openssl ca refused to sign $out"
}

partnership() { cat "$dir/partnership"; }

# The CA's openssl configuration names its folder, so it is rewritten on each
# use: the CA folder can be moved or restored from a backup elsewhere.
if [ "$command" != init ] && [ "$command" != dev ]; then
  [ -f "$dir/ca.key" ] || die "$dir holds no CA; run: certs.sh init $dir PARTNERSHIP"
  ca_config
fi

case "$command" in
  init)
    [ $# -eq 1 ] || [ $# -eq 3 ] || usage
    [ ! -e "$dir/ca.key" ] || die "$dir already holds a CA"
    mkdir -p "$dir/issued" "$dir/server" "$dir/clients" "$dir/crl"
    echo "$1" > "$dir/partnership"
    if [ $# -eq 3 ]; then
      [ "$2" = --crl-url ] || usage
      [[ "$3" =~ ^https?:// ]] || die "--crl-url must be an http:// or https:// URL"
      echo "$3" > "$dir/crl_url"
    fi
    : > "$dir/index.txt"
    echo 1000 > "$dir/crlnumber"
    openssl rand -hex 16 > "$dir/serial"
    ca_config
    new_key "$dir/ca.key"
    openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 3650 -subj "/O=$1/CN=$1 hub CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -out "$dir/ca.crt"
    publish_crl -crldays 30
    echo "created the CA for $1 in $dir"
    ;;
  server)
    [ $# -ge 1 ] || usage
    name=$1; shift
    sans=() days=825
    while [ $# -gt 0 ]; do
      case "$1" in
        --dns) sans+=("DNS:$2"); shift 2 ;;
        --ip) sans+=("IP:$2"); shift 2 ;;
        --days) days=$2; shift 2 ;;
        *) usage ;;
      esac
    done
    [ ${#sans[@]} -gt 0 ] || die "a server certificate needs at least one --dns or --ip"
    new_key "$dir/server/$name.key"
    openssl req -new -key "$dir/server/$name.key" -subj "/O=$(partnership)/CN=$name" \
      -out "$dir/server/$name.csr"
    ext=$(mktemp)
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\ncrlDistributionPoints=URI:%s\n' \
      "$(IFS=,; echo "${sans[*]}")" "$(crl_url)" > "$ext"
    sign "$dir/server/$name.csr" "$dir/server/$name.crt" "$ext" -days "$days"
    rm -f "$ext" "$dir/server/$name.csr"
    echo "issued server certificate $dir/server/$name.crt"
    ;;
  client)
    [ $# -ge 2 ] || usage
    agency=$1 role=$2; shift 2
    validity=(-days 398)
    while [ $# -gt 0 ]; do
      case "$1" in
        --days) validity=(-days "$2"); shift 2 ;;
        --start) validity+=(-startdate "$2"); shift 2 ;;
        --end) validity+=(-enddate "$2"); shift 2 ;;
        *) usage ;;
      esac
    done
    [[ "$agency" =~ ^[a-z0-9][a-z0-9-]*$ ]] || die "agency '$agency' must be lower-case letters, digits and '-'"
    [[ "$role" =~ ^(agency|coordinator|auditor|admin|evaluator)$ ]] || die "role must be agency, coordinator, auditor, admin or evaluator"
    name="$agency-$role"
    identity="spiffe://$(partnership)/agency/$agency/$role"
    new_key "$dir/clients/$name.key"
    openssl req -new -key "$dir/clients/$name.key" -subj "/O=$(partnership)/CN=$name" \
      -out "$dir/clients/$name.csr"
    ext=$(mktemp)
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=URI:%s\ncrlDistributionPoints=URI:%s\n' \
      "$identity" "$(crl_url)" > "$ext"
    sign "$dir/clients/$name.csr" "$dir/clients/$name.crt" "$ext" "${validity[@]}"
    rm -f "$ext" "$dir/clients/$name.csr"
    echo "issued $identity -> $dir/clients/$name.crt"
    ;;
  revoke)
    [ $# -eq 1 ] || usage
    cert="$dir/clients/$1.crt"
    [ -f "$cert" ] || cert="$dir/server/$1.crt"
    [ -f "$cert" ] || die "no certificate named $1 in $dir"
    openssl ca -config "$dir/ca.cnf" -revoke "$cert" 2>/dev/null || die "could not revoke $cert"
    publish_crl -crldays 30
    echo "revoked $cert; the new CRL is in $dir/crl"
    ;;
  crl)
    validity=(-crldays 30)
    while [ $# -gt 0 ]; do
      case "$1" in
        --days) validity=(-crldays "$2"); shift 2 ;;
        --from) validity+=(-crl_lastupdate "$2"); shift 2 ;;
        --until) validity+=(-crl_nextupdate "$2"); shift 2 ;;
        *) usage ;;
      esac
    done
    publish_crl "${validity[@]}"
    echo "published a CRL in $dir/crl: $(openssl crl -in "$dir/crl/ca.crl.pem" -noout -nextupdate)"
    ;;
  dev)
    [ $# -eq 1 ] || usage
    protocol=$1
    [ -f "$protocol" ] || die "no protocol file $protocol"
    if [ -f "$dir/ca.key" ]; then exit 0; fi
    partnership_name=$(sed -n 's/^partnership: *"\(.*\)".*/\1/p' "$protocol" | head -n 1)
    [ -n "$partnership_name" ] || die "$protocol names no partnership"
    "$0" init "$dir" "$partnership_name" >/dev/null
    "$0" server "$dir" hubd --dns localhost --ip 127.0.0.1 --ip ::1 >/dev/null
    sed -n 's|.*identity: *"spiffe://[^/]*/agency/\([^/]*\)/\([a-z]*\)".*|\1 \2|p' "$protocol" |
      while read -r agency role; do "$0" client "$dir" "$agency" "$role" >/dev/null; done
    echo "created development certificates in $dir (CA, server 'hubd', one client per principal)"
    ;;
  *) usage ;;
esac
