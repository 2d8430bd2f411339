package Hotkey::TLS;

# Certificates for tests of TLS to Redis, made with the openssl command:
# a CA, a server certificate for "redis.test" and 127.0.0.1, a client
# certificate, and a second CA with its own server certificate (a store
# the first CA does not vouch for).
#
#   my $c = Hotkey::TLS::certs("$prefix/tls");
#   $c->{ca}, $c->{server_crt}, $c->{server_key}, $c->{client_crt},
#   $c->{client_key}, $c->{other_ca}, $c->{other_crt}, $c->{other_key}
#
#   Hotkey::TLS::redis_args($c, $tls_port, clients => 'yes')
#       redis-server arguments serving TLS on $tls_port (beside its plain
#       port, which the tests keep for their own setup)

use strict;
use warnings;

sub _run {
    my ($dir, $cmd) = @_;
    my $out = `cd '$dir' && $cmd 2>&1`;
    die "openssl: $cmd: $out" if $? != 0;
}

sub _ca {
    my ($dir, $name) = @_;
    _run($dir, "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256"
         . " -nodes -keyout $name.key -out $name.crt -days 3"
         . " -subj /CN=$name");
}

sub _leaf {
    my ($dir, $ca, $name, $cn, $san) = @_;
    _run($dir, "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256"
         . " -nodes -keyout $name.key -out $name.csr -subj /CN=$cn");
    open my $fh, '>', "$dir/$name.ext" or die "$dir/$name.ext: $!";
    print $fh "subjectAltName=$san\nbasicConstraints=CA:FALSE\n";
    close $fh;
    _run($dir, "openssl x509 -req -in $name.csr -CA $ca.crt -CAkey $ca.key"
         . " -CAcreateserial -out $name.crt -days 3 -extfile $name.ext");
}

sub certs {
    my ($dir) = @_;
    -d $dir or mkdir $dir or die "$dir: $!";
    _ca($dir, 'ca');
    _ca($dir, 'other-ca');
    _leaf($dir, 'ca', 'server', 'redis.test', 'DNS:redis.test,IP:127.0.0.1');
    _leaf($dir, 'ca', 'client', 'hotkey-client', 'DNS:hotkey-client');
    _leaf($dir, 'other-ca', 'other', 'redis.test',
          'DNS:redis.test,IP:127.0.0.1');
    chmod 0600, glob("$dir/*.key");
    return {
        dir        => $dir,
        ca         => "$dir/ca.crt",
        server_crt => "$dir/server.crt",
        server_key => "$dir/server.key",
        client_crt => "$dir/client.crt",
        client_key => "$dir/client.key",
        other_ca   => "$dir/other-ca.crt",
        other_crt  => "$dir/other.crt",
        other_key  => "$dir/other.key",
    };
}

sub redis_args {
    my ($c, $port, %opt) = @_;
    my $other = $opt{other};
    return ('--tls-port', $port,
            '--tls-cert-file', $other ? $c->{other_crt} : $c->{server_crt},
            '--tls-key-file', $other ? $c->{other_key} : $c->{server_key},
            '--tls-ca-cert-file', $c->{ca},
            '--tls-auth-clients', $opt{clients} // 'yes',
            @{ $opt{cluster} ? ['--tls-cluster', 'yes',
                                '--tls-replication', 'yes'] : [] });
}

1;
