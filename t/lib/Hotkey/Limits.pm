package Hotkey::Limits;

# Helpers for the rate limit and metrics tests (t/300, t/310), on top of
# Hotkey::Test and Hotkey::Auth (hotkeyctl).  Core Perl modules only.
#
#   use Hotkey::Limits qw(:all);
#   my $a = auth_files($t, creds => [ "AK SK projects=* actions=* name=b" ]);
#       -> { secret => file, creds => file }   (in <prefix>/conf)
#   my $jwt = mint_token($t, project => $pid, sub => 'alice',
#                        rate => '2r/s', burst => 3, actions => '...');
#   my @h = aksk_headers($t, ak => , sk => , path => $path_and_query);
#       -> (Header => value, ...) to pass to $t->request
#   my $res = flood($t, duration => 3, clients => [ { tag => 'A',
#                   bytes => $raw_request, procs => 4 }, ... ]);
#       -> { A => { status => { 200 => n, 429 => m }, first_send => t,
#                   last_recv => t, n => total, errors => k }, ... }
#   my $p = parse_prom($text)
#       -> { samples => { 'name{l="v",...}' => value }, families => {...},
#            errors => [ ... ], order => [ sample keys in page order ] }
#   raw_request('GET', $path, [headers]) -> bytes (Connection: close)
#   pid_log_counts($file) -> { pid => n }   (log_format '$pid ...')
#   log_line_count($file) -> n; log_lines_from($file, $n) -> the lines
#       after the first n (those written since log_line_count said n)

use strict;
use warnings;

use Exporter 'import';
use POSIX ();
use Time::HiRes qw(time sleep);
use IO::Socket::INET;
use IO::Select;
use File::Temp ();
use Hotkey::Test ();
use Hotkey::Auth ();

our @EXPORT_OK = qw(auth_files mint_token aksk_headers flood parse_prom
                    raw_request pid_log_counts ctl_path log_line_count
                    log_lines_from);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

# The hotkeyctl of the build (for a skip_all check before any $t).
sub ctl_path { Hotkey::Test::build_file('hotkeyctl') }

# auth_files($t, creds => [lines]): an HS256 secret (48 random printable
# bytes) and a credentials file in <prefix>/conf.
sub auth_files {
    my ($t, %o) = @_;
    my $dir = $t->prefix . '/conf';
    my $secret = join '', map { ('a' .. 'z', 'A' .. 'Z', 0 .. 9)[rand 62] } 1 .. 48;
    Hotkey::Auth::spew("$dir/hs256.key", "$secret\n");
    Hotkey::Auth::spew("$dir/credentials", join('', map { "$_\n" } @{ $o{creds} || [] }));
    return { secret => "$dir/hs256.key", creds => "$dir/credentials" };
}

# mint_token($t, project => , sub => , rate => , burst => , actions => ,
#            ttl => , nbf_offset => , now => ): an HS256 JWT from
# hotkeyctl token, signed with auth_files' secret.
sub mint_token {
    my ($t, %o) = @_;
    my $nbf = delete $o{nbf_offset};
    return Hotkey::Auth::token($t, %o, key => $t->prefix . '/conf/hs256.key',
                               nbf => $nbf);
}

# aksk_headers($t, ak => , sk => , path => '/v2/...?...', method => 'GET',
#              port => ): the signed headers from hotkeyctl sign, as a
# flat list (X-Sdk-Date, Authorization, Host).  The signature stays valid
# for the date skew (15 minutes), so one set serves many requests.
sub aksk_headers {
    my ($t, %o) = @_;
    my $port = $o{port} || $t->nginx_port;
    return map { @$_ } Hotkey::Auth::signed_headers($t, ak => $o{ak}, sk => $o{sk},
        method => $o{method} || 'GET', url => "http://127.0.0.1:$port$o{path}");
}

# The bytes of one request with Connection: close (and Host unless given);
# raw_request(..., $n): n pipelined requests, the last one closing.
sub raw_request {
    my ($method, $path, $h, $n) = @_;
    if ($n && $n > 1) {
        (my $keep = raw_request($method, $path, $h)) =~ s/Connection: close/Connection: keep-alive/;
        return $keep x ($n - 1) . raw_request($method, $path, $h);
    }
    my @h = @{ $h || [] };
    my %seen = map { lc($h[$_]) => 1 } grep { !($_ % 2) } 0 .. $#h;
    push @h, Host => 'localhost' unless $seen{host};
    push @h, Connection => 'close';
    my $req = "$method $path HTTP/1.1\r\n";
    for (my $i = 0; $i < @h; $i += 2) { $req .= "$h[$i]: $h[$i + 1]\r\n" }
    return "$req\r\n";
}

# One connection: the bytes (one request, or several pipelined), read to
# the end; returns (list of statuses, recv time).
sub _one {
    my ($port, $bytes, $timeout) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or return (0, time);
    binmode $s;
    my $data = $bytes;
    while (length $data) {
        my $n = syswrite($s, $data);
        last unless defined $n;
        substr($data, 0, $n, '');
    }
    my $buf = '';
    my $sel = IO::Select->new($s);
    my $end = time + $timeout;
    while (1) {
        my $left = $end - time;
        last if $left <= 0 || !$sel->can_read($left);
        my $n = sysread($s, my $d, 65536);
        last unless $n;
        $buf .= $d;
    }
    my $t = time;
    close $s;
    my @st = $buf =~ m{HTTP/1\.[01] (\d{3}) }g;
    return (\@st, $t);
}

# flood($t, duration => s, pause => s, port => , clients => [ { tag => ,
# bytes => , procs => N, port => , pipeline => N } ]): forks procs
# processes per client; all start together and send one request per new
# connection (or the pipeline of N requests that bytes holds), back to
# back (pause between), until the duration has passed.  Per tag: status
# counts, the first send and the last answer times (time()), totals.
sub flood {
    my ($t, %o) = @_;
    my $dur = $o{duration} || 3;
    my $pause = $o{pause} // 0.005;
    my $dir = File::Temp::tempdir('flood-XXXXXX', DIR => $t->prefix . '/tmp',
                                  CLEANUP => 0);
    my $start = time + 0.3;
    my @kids;
    my $i = 0;
    for my $c (@{ $o{clients} }) {
        for (1 .. ($c->{procs} || 1)) {
            my $file = "$dir/" . $i++;
            my $pid = fork // die "fork: $!";
            if ($pid == 0) {
                my $port = $c->{port} || $o{port} || $t->nginx_port;
                open my $fh, '>', $file or POSIX::_exit(1);
                my @rows;
                sleep($start - time) if $start > time;
                my $stop = $start + $dur;
                while (time < $stop) {
                    my $t0 = time;
                    my ($st, $t1) = _one($port, $c->{bytes}, 10);
                    my $want = $c->{pipeline} || 1;
                    push @$st, (0) x ($want - @$st) if @$st < $want;
                    push @rows, map { "$c->{tag} $_ $t0 $t1\n" } @$st;
                    sleep $pause if $pause;
                }
                print $fh @rows;
                close $fh;
                POSIX::_exit(0);
            }
            push @kids, $pid;
        }
    }
    waitpid($_, 0) for @kids;
    my %r;
    opendir my $dh, $dir or die "$dir: $!";
    for my $f (grep { /^\d+$/ } readdir $dh) {
        open my $fh, '<', "$dir/$f" or next;
        while (<$fh>) {
            my ($tag, $st, $t0, $t1) = split;
            my $e = $r{$tag} ||= { status => {}, n => 0, errors => 0 };
            $e->{n}++;
            $e->{status}{$st}++;
            $e->{errors}++ unless $st;
            $e->{first_send} = $t0 if !defined $e->{first_send} || $t0 < $e->{first_send};
            $e->{last_recv} = $t1 if !defined $e->{last_recv} || $t1 > $e->{last_recv};
        }
    }
    return \%r;
}

# { pid => number of lines } of an access log whose lines start with $pid.
sub pid_log_counts {
    my ($file, $filter) = @_;
    my %n;
    open my $fh, '<', $file or return \%n;
    while (my $l = <$fh>) {
        next if $filter && $l !~ $filter;
        $n{$1}++ if $l =~ /^(\d+)\s/;
    }
    return \%n;
}

# The number of lines of a log (0 when it does not exist yet).
sub log_line_count {
    my ($file) = @_;
    open my $fh, '<', $file or return 0;
    my @l = <$fh>;
    return scalar @l;
}

# The lines of a log after its first $n (none when it does not exist).
sub log_lines_from {
    my ($file, $n) = @_;
    open my $fh, '<', $file or return;
    my @l = <$fh>;
    return @l[$n .. $#l];
}

# parse_prom($text): the Prometheus text exposition format (0.0.4).
# Checks: every line is a comment (# HELP name text / # TYPE name type),
# or "name{label="value",...} value"; metric and label names valid; a
# family's HELP and TYPE come before its samples and once; a family's
# samples are contiguous; no duplicate series.  Problems go to errors.
sub parse_prom {
    my ($text) = @_;
    my (%samples, %fam, @errors, @order, %closed);
    my $cur;    # family of the previous sample
    push @errors, 'page does not end with a newline'
        if length $text && substr($text, -1) ne "\n";
    my $ln = 0;
    for my $l (split /\n/, $text) {
        $ln++;
        next if $l eq '';
        if ($l =~ /^#\s*(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/) {
            my ($kind, $name, $rest) = ($1, $2, $3 // '');
            my $f = $fam{$name} ||= { name => $name, samples => [] };
            push @errors, "line $ln: $kind for $name after its samples"
                if @{ $f->{samples} };
            push @errors, "line $ln: second $kind for $name"
                if $f->{lc $kind};
            $f->{lc $kind} = $rest;
            if ($kind eq 'TYPE'
                && $rest !~ /^(counter|gauge|histogram|summary|untyped)$/)
            {
                push @errors, "line $ln: bad TYPE '$rest'";
            }
            next;
        }
        if ($l =~ /^#/) { next }
        my ($name, $labels, $value) =
            $l =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
        unless (defined $name) {
            push @errors, "line $ln: not a sample: $l";
            next;
        }
        unless ($value =~ /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$|^[-+]?Inf$|^NaN$/) {
            push @errors, "line $ln: bad value '$value'";
        }
        my @lab;
        if (defined $labels && length $labels) {
            my $s = $labels;
            while (length $s) {
                if ($s =~ s/^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)//) {
                    push @lab, [$1, $2];
                } else {
                    push @errors, "line $ln: bad labels {$labels}";
                    last;
                }
            }
        }
        my %lh = map { $_->[0] => $_->[1] } @lab;
        push @errors, "line $ln: repeated label name" if keys %lh != @lab;
        my $key = $name . '{' . join(',', map { "$_=\"$lh{$_}\"" } sort keys %lh) . '}';
        push @errors, "line $ln: duplicate series $key" if exists $samples{$key};
        $samples{$key} = $value;
        push @order, $key;
        # the family: the name itself, or a histogram/summary base
        my $fname = $name;
        if (!$fam{$name}) {
            (my $base = $name) =~ s/_(bucket|sum|count)$//;
            $fname = $base if $fam{$base};
        }
        my $f = $fam{$fname} ||= { name => $fname, samples => [] };
        push @errors, "line $ln: sample of $fname without TYPE before it"
            unless defined $f->{type};
        push @errors, "line $ln: samples of $fname are not contiguous"
            if $closed{$fname};
        if (defined $cur && $cur ne $fname) { $closed{$cur} = 1 }
        $cur = $fname;
        push @{ $f->{samples} }, { name => $name, labels => \%lh, value => $value,
                                   key => $key };
    }
    return { samples => \%samples, families => \%fam, errors => \@errors,
             order => \@order };
}

1;
