#!/bin/sh
# libcurl for the shipped controller: HTTP and HTTPS only (OpenSSL, nghttp2, zlib), as a static library, built from
# the source of Debian bookworm's curl 7.88.1 (the version of libcurl4-openssl-dev, whose headers the code compiles
# against). Debian's libcurl4 brings 25 more shared libraries (GnuTLS, Kerberos, LDAP, SSH, RTMP, IDN, PSL, brotli,
# zstd) that the controller never uses: a program that only initialises curl holds 9.7 MiB with it, 4.5 MiB with
# this build and its libraries linked in.
# Usage: scripts/build-curl.sh PREFIX (does nothing when PREFIX/lib/libcurl.a exists)
set -eu
prefix=${1:?the install prefix}
[ -f "$prefix/lib/libcurl.a" ] && exit 0
version=7.88.1
sha256=cdb38b72e36bc5d33d5b8810f8018ece1baa29a8f215b4495e495ded82bbf3c7
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl -fsSL -o "$work/curl.tar.gz" "http://deb.debian.org/debian/pool/main/c/curl/curl_$version.orig.tar.gz"
echo "$sha256  $work/curl.tar.gz" | sha256sum -c --quiet -
tar -xzf "$work/curl.tar.gz" -C "$work"
cd "$work/curl-$version"
CFLAGS="-O2 -ffunction-sections -fdata-sections" ./configure --prefix="$prefix" --disable-shared --enable-static \
	--with-openssl --with-nghttp2 --with-zlib --without-libpsl --without-libidn2 --without-librtmp \
	--without-libssh2 --without-brotli --without-zstd --without-gssapi --without-ngtcp2 --without-nghttp3 \
	--without-quiche --without-hyper --disable-ldap --disable-ldaps --disable-rtsp --disable-dict --disable-telnet \
	--disable-tftp --disable-pop3 --disable-imap --disable-smb --disable-smtp --disable-gopher --disable-mqtt \
	--disable-ftp --disable-file --disable-manual --disable-ntlm --disable-docs --disable-dependency-tracking \
	> "$work/configure.log" 2>&1 || { tail -20 "$work/configure.log"; exit 1; }
grep -q "Protocols: *HTTP HTTPS$" "$work/configure.log" || { grep "Protocols" "$work/configure.log"; exit 1; }
make -j"$(nproc)" -C lib > "$work/make.log" 2>&1 || { tail -20 "$work/make.log"; exit 1; }
make -C lib install > /dev/null
make -C include install > /dev/null
make install-pkgconfigDATA > /dev/null
# SwiftPM links what pkg-config says (PKG_CONFIG_PATH=PREFIX/lib/pkgconfig): this libcurl and its libraries, all
# static, so that the binary loads none of them.
sed -i 's|^Libs: .*|Libs: -L${libdir} -lcurl -l:libnghttp2.a -l:libssl.a -l:libcrypto.a -l:libz.a|' \
	"$prefix/lib/pkgconfig/libcurl.pc"
