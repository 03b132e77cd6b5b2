// Behavioural model of the ECP5 DP16KD block RAM (16 kbit: 1024 x 18 bits) for netlist
// simulation.  Written for this project (same licence as the project); Yosys ships DP16KD as a
// blackbox only.  The port list and parameter names follow Yosys share/ecp5/cells_sim.v.
//
// Modelled (the modes synth_ecp5 and nextpnr-ecp5 produce):
//   DATA_WIDTH_A/B  9 and 18 per port (true dual port), 36 (pseudo dual port: port A writes
//                   DIA = bits 17:0, DIB = bits 35:18; port B reads DOA = bits 17:0,
//                   DOB = bits 35:18); address bits AD[13:3] (x9), AD[13:4] (x18),
//                   AD[13:5] (x36); byte enables AD1:AD0 (x18) and AD3:AD0 (x36, port A).
//                   A 36-bit word k is 18-bit rows 2k (low half) and 2k+1 (high half).
//   REGMODE         NOREG (data after one clock) and OUTREG (one more register, OCE-enabled).
//   WRITEMODE       NORMAL (output holds on a write), WRITETHROUGH (new data),
//                   READBEFOREWRITE (old data).
//   CSDECODE        the port is selected when {CS2,CS1,CS0} equals CSDECODE ("0bXYZ").
//   RESETMODE       SYNC (RST clears the output on the clock edge, not gated by CE, and blocks a
//                   write) and ASYNC (RST clears the output at once).
//   CLKAMUX/CLKBMUX "CLKA"/"CLKB" or "INV"; INITVAL_00..3F (16 rows of 20 bits each, the low
//                   18 bits used); outputs start at 0 (Yosys: rdinit zero).
//   <pin>MUX        "0", "1", "INV" or the pin itself, for every data, address and control
//                   input (nextpnr's routed netlist ties constants this way).
// Not modelled (elaboration stops with $fatal): widths 1, 2 and 4; GSR is ignored.  A write on one port to the row the other
// port reads or writes in the same cycle is undefined on the device: the model prints a
// "DP16KD collision" line and returns the old data.

module DP16KD(
  input DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0,
  input ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0,
  input CEA, OCEA, CLKA, WEA, RSTA,
  input CSA2, CSA1, CSA0,
  output DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0,

  input DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0,
  input ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0,
  input CEB, OCEB, CLKB, WEB, RSTB,
  input CSB2, CSB1, CSB0,
  output DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0
);
	parameter DATA_WIDTH_A = 18;
	parameter DATA_WIDTH_B = 18;
	parameter REGMODE_A = "NOREG";
	parameter REGMODE_B = "NOREG";
	parameter RESETMODE = "SYNC";
	parameter ASYNC_RESET_RELEASE = "SYNC";
	parameter CSDECODE_A = "0b000";
	parameter CSDECODE_B = "0b000";
	parameter WRITEMODE_A = "NORMAL";
	parameter WRITEMODE_B = "NORMAL";
	parameter CLKAMUX = "CLKA";
	parameter CLKBMUX = "CLKB";
	parameter GSR = "ENABLED";
	parameter INIT_DATA = "STATIC";
	parameter WID = 0;
	parameter DIA0MUX = "DIA0";
	parameter DIA1MUX = "DIA1";
	parameter DIA2MUX = "DIA2";
	parameter DIA3MUX = "DIA3";
	parameter DIA4MUX = "DIA4";
	parameter DIA5MUX = "DIA5";
	parameter DIA6MUX = "DIA6";
	parameter DIA7MUX = "DIA7";
	parameter DIA8MUX = "DIA8";
	parameter DIA9MUX = "DIA9";
	parameter DIA10MUX = "DIA10";
	parameter DIA11MUX = "DIA11";
	parameter DIA12MUX = "DIA12";
	parameter DIA13MUX = "DIA13";
	parameter DIA14MUX = "DIA14";
	parameter DIA15MUX = "DIA15";
	parameter DIA16MUX = "DIA16";
	parameter DIA17MUX = "DIA17";
	parameter DIB0MUX = "DIB0";
	parameter DIB1MUX = "DIB1";
	parameter DIB2MUX = "DIB2";
	parameter DIB3MUX = "DIB3";
	parameter DIB4MUX = "DIB4";
	parameter DIB5MUX = "DIB5";
	parameter DIB6MUX = "DIB6";
	parameter DIB7MUX = "DIB7";
	parameter DIB8MUX = "DIB8";
	parameter DIB9MUX = "DIB9";
	parameter DIB10MUX = "DIB10";
	parameter DIB11MUX = "DIB11";
	parameter DIB12MUX = "DIB12";
	parameter DIB13MUX = "DIB13";
	parameter DIB14MUX = "DIB14";
	parameter DIB15MUX = "DIB15";
	parameter DIB16MUX = "DIB16";
	parameter DIB17MUX = "DIB17";
	parameter ADA0MUX = "ADA0";
	parameter ADA1MUX = "ADA1";
	parameter ADA2MUX = "ADA2";
	parameter ADA3MUX = "ADA3";
	parameter ADA4MUX = "ADA4";
	parameter ADA5MUX = "ADA5";
	parameter ADA6MUX = "ADA6";
	parameter ADA7MUX = "ADA7";
	parameter ADA8MUX = "ADA8";
	parameter ADA9MUX = "ADA9";
	parameter ADA10MUX = "ADA10";
	parameter ADA11MUX = "ADA11";
	parameter ADA12MUX = "ADA12";
	parameter ADA13MUX = "ADA13";
	parameter ADB0MUX = "ADB0";
	parameter ADB1MUX = "ADB1";
	parameter ADB2MUX = "ADB2";
	parameter ADB3MUX = "ADB3";
	parameter ADB4MUX = "ADB4";
	parameter ADB5MUX = "ADB5";
	parameter ADB6MUX = "ADB6";
	parameter ADB7MUX = "ADB7";
	parameter ADB8MUX = "ADB8";
	parameter ADB9MUX = "ADB9";
	parameter ADB10MUX = "ADB10";
	parameter ADB11MUX = "ADB11";
	parameter ADB12MUX = "ADB12";
	parameter ADB13MUX = "ADB13";
	parameter CEAMUX = "CEA";
	parameter OCEAMUX = "OCEA";
	parameter WEAMUX = "WEA";
	parameter CSA0MUX = "CSA0";
	parameter CSA1MUX = "CSA1";
	parameter CSA2MUX = "CSA2";
	parameter RSTAMUX = "RSTA";
	parameter CEBMUX = "CEB";
	parameter OCEBMUX = "OCEB";
	parameter WEBMUX = "WEB";
	parameter CSB0MUX = "CSB0";
	parameter CSB1MUX = "CSB1";
	parameter CSB2MUX = "CSB2";
	parameter RSTBMUX = "RSTB";
	parameter INITVAL_00 = 320'h0;
	parameter INITVAL_01 = 320'h0;
	parameter INITVAL_02 = 320'h0;
	parameter INITVAL_03 = 320'h0;
	parameter INITVAL_04 = 320'h0;
	parameter INITVAL_05 = 320'h0;
	parameter INITVAL_06 = 320'h0;
	parameter INITVAL_07 = 320'h0;
	parameter INITVAL_08 = 320'h0;
	parameter INITVAL_09 = 320'h0;
	parameter INITVAL_0A = 320'h0;
	parameter INITVAL_0B = 320'h0;
	parameter INITVAL_0C = 320'h0;
	parameter INITVAL_0D = 320'h0;
	parameter INITVAL_0E = 320'h0;
	parameter INITVAL_0F = 320'h0;
	parameter INITVAL_10 = 320'h0;
	parameter INITVAL_11 = 320'h0;
	parameter INITVAL_12 = 320'h0;
	parameter INITVAL_13 = 320'h0;
	parameter INITVAL_14 = 320'h0;
	parameter INITVAL_15 = 320'h0;
	parameter INITVAL_16 = 320'h0;
	parameter INITVAL_17 = 320'h0;
	parameter INITVAL_18 = 320'h0;
	parameter INITVAL_19 = 320'h0;
	parameter INITVAL_1A = 320'h0;
	parameter INITVAL_1B = 320'h0;
	parameter INITVAL_1C = 320'h0;
	parameter INITVAL_1D = 320'h0;
	parameter INITVAL_1E = 320'h0;
	parameter INITVAL_1F = 320'h0;
	parameter INITVAL_20 = 320'h0;
	parameter INITVAL_21 = 320'h0;
	parameter INITVAL_22 = 320'h0;
	parameter INITVAL_23 = 320'h0;
	parameter INITVAL_24 = 320'h0;
	parameter INITVAL_25 = 320'h0;
	parameter INITVAL_26 = 320'h0;
	parameter INITVAL_27 = 320'h0;
	parameter INITVAL_28 = 320'h0;
	parameter INITVAL_29 = 320'h0;
	parameter INITVAL_2A = 320'h0;
	parameter INITVAL_2B = 320'h0;
	parameter INITVAL_2C = 320'h0;
	parameter INITVAL_2D = 320'h0;
	parameter INITVAL_2E = 320'h0;
	parameter INITVAL_2F = 320'h0;
	parameter INITVAL_30 = 320'h0;
	parameter INITVAL_31 = 320'h0;
	parameter INITVAL_32 = 320'h0;
	parameter INITVAL_33 = 320'h0;
	parameter INITVAL_34 = 320'h0;
	parameter INITVAL_35 = 320'h0;
	parameter INITVAL_36 = 320'h0;
	parameter INITVAL_37 = 320'h0;
	parameter INITVAL_38 = 320'h0;
	parameter INITVAL_39 = 320'h0;
	parameter INITVAL_3A = 320'h0;
	parameter INITVAL_3B = 320'h0;
	parameter INITVAL_3C = 320'h0;
	parameter INITVAL_3D = 320'h0;
	parameter INITVAL_3E = 320'h0;
	parameter INITVAL_3F = 320'h0;

	// nextpnr encodes constant and inverted pins in <pin>MUX parameters: "0", "1", "INV"
	// or the pin's name (the pin as it is).
	function pinmux(input [63:0] sel, input value);
		pinmux = (sel == "0") ? 1'b0 : (sel == "1") ? 1'b1 : (sel == "INV") ? ~value : value;
	endfunction
	wire DIA17_m = pinmux(DIA17MUX, DIA17);
	wire DIA16_m = pinmux(DIA16MUX, DIA16);
	wire DIA15_m = pinmux(DIA15MUX, DIA15);
	wire DIA14_m = pinmux(DIA14MUX, DIA14);
	wire DIA13_m = pinmux(DIA13MUX, DIA13);
	wire DIA12_m = pinmux(DIA12MUX, DIA12);
	wire DIA11_m = pinmux(DIA11MUX, DIA11);
	wire DIA10_m = pinmux(DIA10MUX, DIA10);
	wire DIA9_m = pinmux(DIA9MUX, DIA9);
	wire DIA8_m = pinmux(DIA8MUX, DIA8);
	wire DIA7_m = pinmux(DIA7MUX, DIA7);
	wire DIA6_m = pinmux(DIA6MUX, DIA6);
	wire DIA5_m = pinmux(DIA5MUX, DIA5);
	wire DIA4_m = pinmux(DIA4MUX, DIA4);
	wire DIA3_m = pinmux(DIA3MUX, DIA3);
	wire DIA2_m = pinmux(DIA2MUX, DIA2);
	wire DIA1_m = pinmux(DIA1MUX, DIA1);
	wire DIA0_m = pinmux(DIA0MUX, DIA0);
	wire DIB17_m = pinmux(DIB17MUX, DIB17);
	wire DIB16_m = pinmux(DIB16MUX, DIB16);
	wire DIB15_m = pinmux(DIB15MUX, DIB15);
	wire DIB14_m = pinmux(DIB14MUX, DIB14);
	wire DIB13_m = pinmux(DIB13MUX, DIB13);
	wire DIB12_m = pinmux(DIB12MUX, DIB12);
	wire DIB11_m = pinmux(DIB11MUX, DIB11);
	wire DIB10_m = pinmux(DIB10MUX, DIB10);
	wire DIB9_m = pinmux(DIB9MUX, DIB9);
	wire DIB8_m = pinmux(DIB8MUX, DIB8);
	wire DIB7_m = pinmux(DIB7MUX, DIB7);
	wire DIB6_m = pinmux(DIB6MUX, DIB6);
	wire DIB5_m = pinmux(DIB5MUX, DIB5);
	wire DIB4_m = pinmux(DIB4MUX, DIB4);
	wire DIB3_m = pinmux(DIB3MUX, DIB3);
	wire DIB2_m = pinmux(DIB2MUX, DIB2);
	wire DIB1_m = pinmux(DIB1MUX, DIB1);
	wire DIB0_m = pinmux(DIB0MUX, DIB0);
	wire ADA13_m = pinmux(ADA13MUX, ADA13);
	wire ADA12_m = pinmux(ADA12MUX, ADA12);
	wire ADA11_m = pinmux(ADA11MUX, ADA11);
	wire ADA10_m = pinmux(ADA10MUX, ADA10);
	wire ADA9_m = pinmux(ADA9MUX, ADA9);
	wire ADA8_m = pinmux(ADA8MUX, ADA8);
	wire ADA7_m = pinmux(ADA7MUX, ADA7);
	wire ADA6_m = pinmux(ADA6MUX, ADA6);
	wire ADA5_m = pinmux(ADA5MUX, ADA5);
	wire ADA4_m = pinmux(ADA4MUX, ADA4);
	wire ADA3_m = pinmux(ADA3MUX, ADA3);
	wire ADA2_m = pinmux(ADA2MUX, ADA2);
	wire ADA1_m = pinmux(ADA1MUX, ADA1);
	wire ADA0_m = pinmux(ADA0MUX, ADA0);
	wire ADB13_m = pinmux(ADB13MUX, ADB13);
	wire ADB12_m = pinmux(ADB12MUX, ADB12);
	wire ADB11_m = pinmux(ADB11MUX, ADB11);
	wire ADB10_m = pinmux(ADB10MUX, ADB10);
	wire ADB9_m = pinmux(ADB9MUX, ADB9);
	wire ADB8_m = pinmux(ADB8MUX, ADB8);
	wire ADB7_m = pinmux(ADB7MUX, ADB7);
	wire ADB6_m = pinmux(ADB6MUX, ADB6);
	wire ADB5_m = pinmux(ADB5MUX, ADB5);
	wire ADB4_m = pinmux(ADB4MUX, ADB4);
	wire ADB3_m = pinmux(ADB3MUX, ADB3);
	wire ADB2_m = pinmux(ADB2MUX, ADB2);
	wire ADB1_m = pinmux(ADB1MUX, ADB1);
	wire ADB0_m = pinmux(ADB0MUX, ADB0);
	wire CEA_m = pinmux(CEAMUX, CEA);
	wire OCEA_m = pinmux(OCEAMUX, OCEA);
	wire WEA_m = pinmux(WEAMUX, WEA);
	wire CSA0_m = pinmux(CSA0MUX, CSA0);
	wire CSA1_m = pinmux(CSA1MUX, CSA1);
	wire CSA2_m = pinmux(CSA2MUX, CSA2);
	wire RSTA_m = pinmux(RSTAMUX, RSTA);
	wire CEB_m = pinmux(CEBMUX, CEB);
	wire OCEB_m = pinmux(OCEBMUX, OCEB);
	wire WEB_m = pinmux(WEBMUX, WEB);
	wire CSB0_m = pinmux(CSB0MUX, CSB0);
	wire CSB1_m = pinmux(CSB1MUX, CSB1);
	wire CSB2_m = pinmux(CSB2MUX, CSB2);
	wire RSTB_m = pinmux(RSTBMUX, RSTB);

	function [2:0] cs_code(input [39:0] text);  // "0bXYZ" -> XYZ
		cs_code = {text[16], text[8], text[0]};
	endfunction

	function [319:0] initval(input integer k);
		case (k)
			0: initval = INITVAL_00;
			1: initval = INITVAL_01;
			2: initval = INITVAL_02;
			3: initval = INITVAL_03;
			4: initval = INITVAL_04;
			5: initval = INITVAL_05;
			6: initval = INITVAL_06;
			7: initval = INITVAL_07;
			8: initval = INITVAL_08;
			9: initval = INITVAL_09;
			10: initval = INITVAL_0A;
			11: initval = INITVAL_0B;
			12: initval = INITVAL_0C;
			13: initval = INITVAL_0D;
			14: initval = INITVAL_0E;
			15: initval = INITVAL_0F;
			16: initval = INITVAL_10;
			17: initval = INITVAL_11;
			18: initval = INITVAL_12;
			19: initval = INITVAL_13;
			20: initval = INITVAL_14;
			21: initval = INITVAL_15;
			22: initval = INITVAL_16;
			23: initval = INITVAL_17;
			24: initval = INITVAL_18;
			25: initval = INITVAL_19;
			26: initval = INITVAL_1A;
			27: initval = INITVAL_1B;
			28: initval = INITVAL_1C;
			29: initval = INITVAL_1D;
			30: initval = INITVAL_1E;
			31: initval = INITVAL_1F;
			32: initval = INITVAL_20;
			33: initval = INITVAL_21;
			34: initval = INITVAL_22;
			35: initval = INITVAL_23;
			36: initval = INITVAL_24;
			37: initval = INITVAL_25;
			38: initval = INITVAL_26;
			39: initval = INITVAL_27;
			40: initval = INITVAL_28;
			41: initval = INITVAL_29;
			42: initval = INITVAL_2A;
			43: initval = INITVAL_2B;
			44: initval = INITVAL_2C;
			45: initval = INITVAL_2D;
			46: initval = INITVAL_2E;
			47: initval = INITVAL_2F;
			48: initval = INITVAL_30;
			49: initval = INITVAL_31;
			50: initval = INITVAL_32;
			51: initval = INITVAL_33;
			52: initval = INITVAL_34;
			53: initval = INITVAL_35;
			54: initval = INITVAL_36;
			55: initval = INITVAL_37;
			56: initval = INITVAL_38;
			57: initval = INITVAL_39;
			58: initval = INITVAL_3A;
			59: initval = INITVAL_3B;
			60: initval = INITVAL_3C;
			61: initval = INITVAL_3D;
			62: initval = INITVAL_3E;
			63: initval = INITVAL_3F;
			default: initval = 320'h0;
		endcase
	endfunction

	reg [17:0] rows [0:1023];
	reg [319:0] slice;
	integer k, i;
	initial begin
		for (k = 0; k < 64; k = k + 1) begin
			slice = initval(k);
			for (i = 0; i < 16; i = i + 1)
				rows[k * 16 + i] = slice[i * 20 +: 18];
		end
	end

	initial begin
		if (DATA_WIDTH_A != 9 && DATA_WIDTH_A != 18 && DATA_WIDTH_A != 36)
			$fatal(1, "DP16KD model: DATA_WIDTH_A=%0d is not modelled", DATA_WIDTH_A);
		if (DATA_WIDTH_B != 9 && DATA_WIDTH_B != 18 && DATA_WIDTH_B != 36)
			$fatal(1, "DP16KD model: DATA_WIDTH_B=%0d is not modelled", DATA_WIDTH_B);
		if ((DATA_WIDTH_A == 36) != (DATA_WIDTH_B == 36))
			$fatal(1, "DP16KD model: x36 must be set on both ports (pseudo dual port)");
	end

	localparam PDP = DATA_WIDTH_A == 36;
	wire clk_a = (CLKAMUX == "INV") ? ~CLKA : CLKA;
	wire clk_b = (CLKBMUX == "INV") ? ~CLKB : CLKB;
	wire [13:0] ad_a = {ADA13_m, ADA12_m, ADA11_m, ADA10_m, ADA9_m, ADA8_m, ADA7_m, ADA6_m, ADA5_m, ADA4_m, ADA3_m, ADA2_m, ADA1_m, ADA0_m};
	wire [13:0] ad_b = {ADB13_m, ADB12_m, ADB11_m, ADB10_m, ADB9_m, ADB8_m, ADB7_m, ADB6_m, ADB5_m, ADB4_m, ADB3_m, ADB2_m, ADB1_m, ADB0_m};
	wire [17:0] di_a = {DIA17_m, DIA16_m, DIA15_m, DIA14_m, DIA13_m, DIA12_m, DIA11_m, DIA10_m, DIA9_m, DIA8_m, DIA7_m, DIA6_m, DIA5_m, DIA4_m, DIA3_m, DIA2_m, DIA1_m, DIA0_m};
	wire [17:0] di_b = {DIB17_m, DIB16_m, DIB15_m, DIB14_m, DIB13_m, DIB12_m, DIB11_m, DIB10_m, DIB9_m, DIB8_m, DIB7_m, DIB6_m, DIB5_m, DIB4_m, DIB3_m, DIB2_m, DIB1_m, DIB0_m};
	wire arst_a = RESETMODE == "ASYNC" && RSTA_m && !PDP;
	wire arst_b = RESETMODE == "ASYNC" && RSTB_m;
	wire sel_a = CEA_m && ({CSA2_m, CSA1_m, CSA0_m} == cs_code(CSDECODE_A));
	wire sel_b = CEB_m && ({CSB2_m, CSB1_m, CSB0_m} == cs_code(CSDECODE_B));

	// Row (18-bit word) and half (x9) of each port's access; x36 uses rows 2k and 2k+1.
	wire [9:0] row_a = PDP ? {ad_a[13:5], 1'b0} : ad_a[13:4];
	wire [9:0] row_b = PDP ? {ad_b[13:5], 1'b0} : ad_b[13:4];
	wire half_a = ad_a[3], half_b = ad_b[3];

	// Write masks (per 9-bit byte of a row) and data, port A (and port A of x36).
	wire write_a = sel_a && WEA_m && !(RESETMODE == "SYNC" && RSTA_m);
	wire write_b = !PDP && sel_b && WEB_m && !(RESETMODE == "SYNC" && RSTB_m);
	wire [1:0] be_a = (DATA_WIDTH_A == 9) ? (half_a ? 2'b10 : 2'b01) : ad_a[1:0];
	wire [1:0] be_a_hi = ad_a[3:2];  // x36: bytes of the high row
	wire [1:0] be_b = (DATA_WIDTH_B == 9) ? (half_b ? 2'b10 : 2'b01) : ad_b[1:0];
	wire [17:0] wd_a = (DATA_WIDTH_A == 9) ? {di_a[8:0], di_a[8:0]} : di_a;
	wire [17:0] wd_b = (DATA_WIDTH_B == 9) ? {di_b[8:0], di_b[8:0]} : di_b;

	function [17:0] merge(input [17:0] old, input [17:0] data, input [1:0] be);
		merge = {be[1] ? data[17:9] : old[17:9], be[0] ? data[8:0] : old[8:0]};
	endfunction

	function [17:0] narrow(input [17:0] row, input half, input integer width);
		narrow = (width == 9) ? {9'b0, half ? row[17:9] : row[8:0]} : row;
	endfunction

	// Port A: write (and x18/x9 read); x36: write only.
	reg [17:0] latch_a = 18'b0, out_a = 18'b0;
	always @(posedge clk_a or posedge arst_a) begin
		if (arst_a) begin
			latch_a <= 18'b0;
			out_a <= 18'b0;
		end else begin
		if (write_a) begin
			rows[row_a] <= merge(rows[row_a], wd_a, be_a);
			if (PDP)
				rows[row_a | 10'd1] <= merge(rows[row_a | 10'd1], di_b, be_a_hi);
			if ((be_a != 2'b00 || (PDP && be_a_hi != 2'b00)) && sel_b && row_b == row_a)
				$display("DP16KD collision: %m port A writes row %0d", row_a);
		end
		if (!PDP) begin
			if (RESETMODE == "SYNC" && RSTA_m)
				latch_a <= 18'b0;
			else if (sel_a && !WEA_m)
				latch_a <= narrow(rows[row_a], half_a, DATA_WIDTH_A);
			else if (sel_a && WEA_m && WRITEMODE_A == "WRITETHROUGH")
				latch_a <= narrow(merge(rows[row_a], wd_a, be_a), half_a, DATA_WIDTH_A);
			else if (sel_a && WEA_m && WRITEMODE_A == "READBEFOREWRITE")
				latch_a <= narrow(rows[row_a], half_a, DATA_WIDTH_A);
			if (RESETMODE == "SYNC" && RSTA_m)
				out_a <= 18'b0;
			else if (OCEA_m)
				out_a <= latch_a;
		end
		end
	end

	// Port B: x18/x9 read and write; x36: the 36-bit read.
	reg [35:0] latch_b = 36'b0, out_b = 36'b0;
	always @(posedge clk_b or posedge arst_b) begin
		if (arst_b) begin
			latch_b <= 36'b0;
			out_b <= 36'b0;
		end else begin
		if (write_b) begin
			rows[row_b] <= merge(rows[row_b], wd_b, be_b);
			if (be_b != 2'b00 && sel_a && row_a == row_b && !write_a)
				$display("DP16KD collision: %m port B writes row %0d", row_b);
		end
		if (RESETMODE == "SYNC" && RSTB_m)
			latch_b <= 36'b0;
		else if (PDP && sel_b)
			latch_b <= {rows[row_b | 10'd1], rows[row_b]};
		else if (!PDP && sel_b && !WEB_m)
			latch_b <= {18'b0, narrow(rows[row_b], half_b, DATA_WIDTH_B)};
		else if (!PDP && sel_b && WEB_m && WRITEMODE_B == "WRITETHROUGH")
			latch_b <= {18'b0, narrow(merge(rows[row_b], wd_b, be_b), half_b, DATA_WIDTH_B)};
		else if (!PDP && sel_b && WEB_m && WRITEMODE_B == "READBEFOREWRITE")
			latch_b <= {18'b0, narrow(rows[row_b], half_b, DATA_WIDTH_B)};
		if (RESETMODE == "SYNC" && RSTB_m)
			out_b <= 36'b0;
		else if (OCEB_m)
			out_b <= latch_b;
		end
	end

	wire [17:0] do_a = PDP ? (REGMODE_B == "OUTREG" ? out_b[17:0] : latch_b[17:0])
	                       : (REGMODE_A == "OUTREG" ? out_a : latch_a);
	wire [17:0] do_b = PDP ? (REGMODE_B == "OUTREG" ? out_b[35:18] : latch_b[35:18])
	                       : (REGMODE_B == "OUTREG" ? out_b[17:0] : latch_b[17:0]);
	assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = do_a;
	assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = do_b;
endmodule
