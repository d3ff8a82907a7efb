'use strict';
'require view';
'require form';
'require rpc';
'require ui';

// /etc/config/mimm as a form: globals, interfaces, the VSD, the server.
// Options left empty stay out of the file, so mimmd's defaults (which
// depend on the metric and the link's kind) keep applying. Thresholds set
// in one interface are checked in order here; on Save & Apply the staged
// file is checked by `mimmd check` (which knows the defaults too) before
// anything is applied, and mimmd reloads once it is.

var callCheck = rpc.declare({ object: 'mimm', method: 'check' });
var callReload = rpc.declare({ object: 'mimm', method: 'reload' });

// Lowest first, as they must rise.
var LEVELS = [ 'available', 'inactive', 'deteriorating', 'active', 'stable' ];

// An explicit threshold must lie between the explicit ones around it.
function validateThreshold(section_id, value) {
	if (value === '' || (this.option === 'available' && value === 'none'))
		return true;
	var v = Number(value);
	if (!isFinite(v))
		return _('%s must be a number').format(this.option);
	var at = LEVELS.indexOf(this.option);
	for (var k = 0; k < LEVELS.length; k++) {
		if (k === at)
			continue;
		var other = this.section.formvalue(section_id, LEVELS[k]);
		if (other == null || other === '' || other === 'none' || !isFinite(Number(other)))
			continue;
		if (k < at && !(Number(other) < v))
			return _('%s %s must be above %s %s').format(this.option, value, LEVELS[k], other);
		if (k > at && !(v < Number(other)))
			return _('%s %s must be below %s %s').format(this.option, value, LEVELS[k], other);
	}
	return true;
}

// An option on `tab`, or on the section itself when it has no tabs.
function add(s, tab, cls, name, title, descr) {
	return tab ? s.taboption(tab, cls, name, title, descr) : s.option(cls, name, title, descr);
}

function value(s, tab, name, title, placeholder, datatype) {
	var o = add(s, tab, form.Value, name, title);
	o.rmempty = true;
	if (placeholder != null)
		o.placeholder = placeholder;
	if (datatype)
		o.datatype = datatype;
	return o;
}

function flag(s, tab, name, title, dflt) {
	var o = add(s, tab, form.Flag, name, title);
	o.default = dflt;
	o.rmempty = true;
	return o;
}

function list(s, tab, name, title, values) {
	var o = add(s, tab, form.ListValue, name, title);
	o.rmempty = true;
	values.forEach(function(v) { o.value(v[0], v[1]); });
	return o;
}

function averaging(s, tab) {
	list(s, tab, 'averaging', _('Averaging'), [ [ '', _('default') ], [ 'ewma', 'ewma' ], [ 'moving', 'moving' ] ]);
	value(s, tab, 'alpha', _('EWMA alpha'), null, 'range(0,1)');
	value(s, tab, 'window', _('Moving-average window'), null, 'uinteger');
}

function globals(m) {
	var s = m.section(form.TypedSection, 'globals', _('Globals'));
	s.anonymous = true;
	s.addremove = true;
	s.tab('general', _('General'));
	s.tab('timing', _('Anti-ping-pong and timers'));
	s.tab('score', _('Score weights'));
	list(s, 'general', 'mode', _('Mode'), [ [ '', _('route (default)') ], [ 'route', 'route' ], [ 'vsd', 'vsd' ] ]);
	value(s, 'general', 'vsd', _('VSD section'), _('the only one'));
	value(s, 'general', 'sample_ms', _('Sample period (ms)'), '1000', 'uinteger');
	value(s, 'general', 'socket', _('Control socket'), '/var/run/mimmd.sock');
	value(s, 'general', 'route_table', _('Route table'), '220', 'uinteger');
	value(s, 'general', 'rule_priority', _('Rule priority'), '9000', 'uinteger');
	flag(s, 'general', 'conntrack_flush', _('Flush conntrack on handoff'), '1');
	value(s, 'general', 'hook_timeout_ms', _('Hook timeout (ms)'), '10000', 'uinteger');
	value(s, 'general', 'probe_interval_ms', _('Probe interval (ms)'), '150', 'uinteger');
	value(s, 'general', 'probe_timeout_ms', _('Probe timeout (ms)'), '300', 'uinteger');
	value(s, 'general', 'probe_fail', _('Lost probes for path lost'), '3', 'uinteger');
	value(s, 'general', 'probe_ok', _('Answered probes for path back'), '2', 'uinteger');
	list(s, 'general', 'log_level', _('Log level'), [ [ '', _('info (default)') ],
		[ 'off', 'off' ], [ 'error', 'error' ], [ 'warn', 'warn' ], [ 'info', 'info' ], [ 'debug', 'debug' ], [ 'trace', 'trace' ] ]);
	flag(s, 'general', 'consult_server', _('Ask the server before voluntary handoffs'), '0');
	averaging(s, 'general');
	value(s, 'timing', 'min_dwell_ms', _('Minimum dwell (ms)'), '2000', 'uinteger');
	value(s, 'timing', 'hold_down_ms', _('Hold-down (ms)'), '30000', 'uinteger');
	value(s, 'timing', 'better_dwell_ms', _('Better-for (ms)'), '0', 'uinteger');
	value(s, 'timing', 'better_margin', _('Better by (score)'), '0.6', 'ufloat');
	value(s, 'timing', 'handoff_cost_ms', _('Handoff cost (ms)'), '4000', 'uinteger');
	value(s, 'timing', 'gain_spread', _('Gain spreads'), '1', 'ufloat');
	value(s, 'timing', 'gain_alpha', _('Gain smoothing'), '0.8', 'range(0,1)');
	value(s, 'timing', 'activation_timeout_ms', _('Activation timeout (ms)'), '30000', 'uinteger');
	value(s, 'timing', 'prepare_timeout_ms', _('Prepare timeout (ms)'), '15000', 'uinteger');
	value(s, 'timing', 'advice_timeout_ms', _('Advice timeout (ms)'), '3000', 'uinteger');
	value(s, 'timing', 'retry_after_ms', _('Retry after (ms)'), '30000', 'uinteger');
	value(s, 'score', 'weight_margin', _('Margin over the thresholds'), null, 'ufloat');
	value(s, 'score', 'weight_rate', _('Measured rate'), null, 'ufloat');
	value(s, 'score', 'weight_kind', _('Kind of link'), null, 'ufloat');
	value(s, 'score', 'weight_preference', _('User preference'), null, 'ufloat');
	value(s, 'score', 'weight_priority', _('Priority'), null, 'ufloat');
	value(s, 'score', 'weight_power', _('Power cost'), null, 'ufloat');
	value(s, 'score', 'weight_cost', _('Monetary cost'), null, 'ufloat');
}

function interfaces(m) {
	var s = m.section(form.TypedSection, 'interface', _('Interfaces'),
		_('One per WAN link; the name is the netifd interface. The five thresholds rise from available to stable; any left empty take mimmd\'s default for the metric and kind.'));
	s.addremove = true;
	s.anonymous = false;
	s.tab('link', _('Link'));
	s.tab('thresholds', _('Thresholds'));
	s.tab('score', _('Score'));
	s.tab('actions', _('Actions'));
	value(s, 'link', 'device', _('Device'), _('the section name'));
	value(s, 'link', 'gateway', _('Gateway'), _('learned'), 'ip4addr');
	var kind = value(s, 'link', 'kind', _('Kind'), 'other');
	[ 'ethernet', 'wifi', '5g', 'lte', 'hspa', 'umts', 'other' ].forEach(function(k) { kind.value(k); });
	value(s, 'link', 'signal_source', _('Signal source'), 'none');
	var probe = s.taboption('link', form.DynamicList, 'probe', _('Probes'), _('ADDR (ICMP echo) or udp:ADDR:PORT'));
	probe.rmempty = true;
	value(s, 'link', 'network', _('Network id (PLMN, SSID)'), _('the section name'));
	flag(s, 'link', 'enabled', _('Enabled'), '1');
	list(s, 'thresholds', 'metric', _('Metric'), [ [ '', _('default') ],
		[ 'signal_dbm', 'signal_dbm' ], [ 'rate_kbps', 'rate_kbps' ], [ 'quality', 'quality' ] ]);
	LEVELS.forEach(function(level) {
		var o = value(s, 'thresholds', level, level, _('default'));
		o.validate = validateThreshold;
	});
	averaging(s, 'thresholds');
	value(s, 'score', 'priority', _('Priority'), '50', 'range(0,100)');
	value(s, 'score', 'power_cost', _('Power cost'), null, 'range(0,10)');
	value(s, 'score', 'monetary_cost', _('Monetary cost'), null, 'range(0,10)');
	flag(s, 'score', 'preferred', _('Preferred at start'), '0');
	flag(s, 'actions', 'standby', _('May be switched off while the primary is stable'), '0');
	flag(s, 'actions', 'needs_activation', _('Must be brought up before use'), '0');
	value(s, 'actions', 'up_cmd', _('Up command'), 'ubus call network.interface.NAME up');
	value(s, 'actions', 'down_cmd', _('Down command'), 'ubus call network.interface.NAME down');
	s.taboption('actions', form.DynamicList, 'pre_handoff', _('Before a handoff'), _('absolute paths, run in order')).rmempty = true;
	s.taboption('actions', form.DynamicList, 'post_handoff', _('After a handoff'), _('absolute paths, run in order')).rmempty = true;
}

function vsd(m) {
	var s = m.section(form.TypedSection, 'vsd', _('Virtual subnet device'),
		_('The VSD bonds members behind one address: shadow MAC on one segment, anchored over different carriers.'));
	s.addremove = true;
	s.anonymous = false;
	s.tab('members', _('Members'));
	s.tab('anchored', _('Anchored mode'));
	var mode = list(s, 'members', 'mode', _('Mode'), [ [ '', _('shadow (default)') ], [ 'shadow', 'shadow' ], [ 'anchored', 'anchored' ] ]);
	mode.default = '';
	var member = s.taboption('members', form.DynamicList, 'member', _('Members'), _('devices, the first preferred'));
	member.rmempty = true;
	// Shadow-MAC only (the VSD refuses them in anchored mode).
	value(s, 'members', 'mac', _('Shadow MAC'), _('derived'), 'macaddr');
	list(s, 'members', 'mac_policy', _('MAC policy'), [ [ '', _('same_all (default)') ],
		[ 'same_all', 'same_all' ], [ 'only_active', 'only_active' ], [ 'by_active', 'by_active' ] ]);
	list(s, 'members', 'datapath', _('Data path'), [ [ '', _('kernel (default)') ],
		[ 'kernel', _('kernel: tc redirects, the VSD steers') ], [ 'userspace', _('userspace: every frame through the VSD') ] ]);
	value(s, 'members', 'mtu', _('MTU'), null, 'range(576,65535)');
	value(s, 'members', 'overlap_ms', _('Overlap (ms)'), '200', 'uinteger');
	value(s, 'members', 'num_grat_arp', _('Gratuitous ARPs'), '3', 'range(0,255)');
	value(s, 'members', 'num_unsol_na', _('Unsolicited NAs'), '3', 'range(0,255)');
	value(s, 'members', 'announce_interval_ms', _('Announcement spacing (ms)'), '200', 'uinteger');
	value(s, 'members', 'socket', _('Control socket'), '/var/run/vsd-NAME.sock');
	value(s, 'members', 'batch', _('Frames per system call'), '16', 'range(1,64)');
	var anchored = [
		value(s, 'anchored', 'anchor', _('Anchor'), 'IPV4[:PORT]'),
		value(s, 'anchored', 'home_agent', _('Anchor\'s tunnel address'), null, 'ip4addr'),
		value(s, 'anchored', 'home', _('Home address'), '0.0.0.0', 'ip4addr'),
		value(s, 'anchored', 'spi', _('SPI'), null, 'uinteger'),
		value(s, 'anchored', 'key', _('Key (hex)')),
		list(s, 'anchored', 'algorithm', _('Algorithm'), [ [ '', _('hmac-sha256 (default)') ], [ 'hmac-sha256', 'hmac-sha256' ], [ 'hmac-md5', 'hmac-md5' ] ]),
		value(s, 'anchored', 'lifetime_s', _('Lifetime (s)'), '600', 'uinteger'),
		value(s, 'anchored', 'keepalive_ms', _('Keepalive (ms)'), '1000', 'range(50,60000)'),
		value(s, 'anchored', 'mark', _('Socket mark'), '0x6d6d'),
		value(s, 'anchored', 'enterprise', _('Enterprise number'), '32473', 'uinteger'),
		list(s, 'anchored', 'cipher', _('Cipher'), [ [ '', _('chacha20-poly1305 (default)') ],
			[ 'chacha20-poly1305', 'chacha20-poly1305' ], [ 'none', 'none' ] ])
	];
	anchored.forEach(function(o) { o.depends('mode', 'anchored'); });
	anchored[4].password = true;
}

function server(m) {
	var s = m.section(form.TypedSection, 'server', _('MIMM server'),
		_('Reports, handoff advice and reactive advice from the operator\'s server.'));
	s.anonymous = true;
	s.addremove = true;
	flag(s, null, 'enabled', _('Enabled'), '1');
	value(s, null, 'address', _('Address'), 'IPV4[:PORT]');
	value(s, null, 'spi', _('SPI'), null, 'uinteger');
	value(s, null, 'key', _('Key (hex)')).password = true;
	list(s, null, 'algorithm', _('Algorithm'), [ [ '', _('hmac-sha256 (default)') ], [ 'hmac-sha256', 'hmac-sha256' ], [ 'hmac-md5', 'hmac-md5' ] ]);
	value(s, null, 'enterprise', _('Enterprise number'), '32473', 'uinteger');
	value(s, null, 'window_s', _('Clock window (s)'), '7', 'uinteger');
	value(s, null, 'report_s', _('Report every (s)'), '20', 'uinteger');
	var session = s.option(form.DynamicList, 'session', _('Sessions'), _('KIND:KBPS, KIND voice, video, bulk or other'));
	session.rmempty = true;
}

return view.extend({
	render: function() {
		var m = new form.Map('mimm', _('Mobility (mimm): configuration'),
			_('Changes are checked by mimmd before they are applied; a file mimmd refuses is never applied.'));
		globals(m);
		interfaces(m);
		vsd(m);
		server(m);
		this.map = m;
		return m.render();
	},

	// Stage, have mimmd check the staged file, and only then apply; once
	// applied, mimmd reloads (on a router procd's trigger would too: the
	// second reload finds nothing changed).
	handleSaveApply: function(ev, mode) {
		return this.handleSave(ev).then(function() {
			return callCheck();
		}).then(function(res) {
			if (res && res.error) {
				ui.addNotification(_('mimmd refused the changes'), E('p', { 'class': 'mimm-check-error' }, res.error), 'danger');
				return;
			}
			document.addEventListener('uci-applied', function() {
				callReload().then(function(r) {
					if (r && r.error)
						ui.addNotification(_('mimmd did not reload'), E('p', { 'class': 'mimm-reload-error' }, r.error), 'danger');
				});
			}, { once: true });
			ui.changes.apply(mode == '0');
		});
	}
});
